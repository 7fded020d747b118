"""The target file: which deployment to verify, parsed once into frozen, typed objects.

The schema is declared once, key by key, in the section dataclasses (`_sections`, `_aws`,
`_document`); `_schema` derives the allowed keys, required keys, key paths and defaults from those
declarations, and `_load` reads a file with them. Every error names the file, the key path and the
problem, so a bad file is fixed in one look.
"""

from synthetics.target._aws import AwsSettings, Ec2Settings, EcsSettings
from synthetics.target._document import Target
from synthetics.target._load import load_target, parse_target
from synthetics.target._reader import TargetError
from synthetics.target._schema import describe
from synthetics.target._sections import Canary, Homeserver

# Exactly what other modules import; the other sections are reached as attributes of a Target.
__all__ = [
    "AwsSettings",
    "Canary",
    "Ec2Settings",
    "EcsSettings",
    "Homeserver",
    "Target",
    "TargetError",
    "describe",
    "load_target",
    "parse_target",
]
