"""The embedded reference deployment: Synapse on PostgreSQL behind a Cloudflare-like edge.

    from stack import Deployment
    with Deployment().running() as target_yaml:
        ...  # point the suite at target_yaml

CLI: `python -m stack up|status|down|fault NAME|fault --list|heal [NAME]`.
"""

from stack._deployment import Deployment
from stack._errors import StackError
from stack._faults import FAULTS
from stack._layout import default_state_dir

__all__ = ["FAULTS", "Deployment", "StackError", "default_state_dir"]
