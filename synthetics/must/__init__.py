"""Assertion helpers that fail a check with its failure mode, what was expected and what was seen.

Each helper reads evidence a fixture gathered and raises `CheckFailed` (an AssertionError) with a
message that starts with the failure mode; pure matching lives in `synthetics.match`.
"""

from synthetics.must._admin import (
    answer_the_server_version,
    have_no_pending_background_updates,
    keep_rooms_small,
    reach_destinations,
)
from synthetics.must._aws import (
    answer_directly,
    be_available,
    block_public_access,
    have_free_storage,
    log_no_database_errors,
    run_the_instances,
    run_the_service,
    settle,
    stay_under_utilisation,
    write_media,
)
from synthetics.must._core import (
    Caution,
    CheckFailed,
    Observations,
    fail,
    match_response,
    note,
    observing,
    stop_observing,
    warn,
)
from synthetics.must._federation import (
    advertise_homeserver,
    agree_on_keys,
    answer_on_every_candidate,
    delegate,
    discover,
    federate_on_a_cloudflare_port,
    serve_valid_keys,
    serve_valid_keys_on_every_candidate,
)
from synthetics.must._journeys import complete
from synthetics.must._metrics import (
    keep_event_processing_current,
    keep_federation_queue_short,
    keep_file_descriptors,
    keep_transactions_fast,
    read_the_metrics,
    run_the_expected_version,
    wait_little_for_connections,
)
from synthetics.must._security import be_unreachable, keep_registration_closed
from synthetics.must._surface import (
    last_days,
    lie_in_cloudflare,
    not_be_challenged,
    reach_the_network,
    resolve,
    speak_modern_tls,
    stay_within,
    verify_tls,
)

__all__ = [
    "Caution",
    "CheckFailed",
    "Observations",
    "advertise_homeserver",
    "agree_on_keys",
    "answer_directly",
    "answer_on_every_candidate",
    "answer_the_server_version",
    "be_available",
    "be_unreachable",
    "block_public_access",
    "complete",
    "delegate",
    "discover",
    "fail",
    "federate_on_a_cloudflare_port",
    "have_free_storage",
    "have_no_pending_background_updates",
    "keep_event_processing_current",
    "keep_federation_queue_short",
    "keep_file_descriptors",
    "keep_registration_closed",
    "keep_rooms_small",
    "keep_transactions_fast",
    "last_days",
    "lie_in_cloudflare",
    "log_no_database_errors",
    "match_response",
    "not_be_challenged",
    "note",
    "observing",
    "reach_destinations",
    "reach_the_network",
    "read_the_metrics",
    "resolve",
    "run_the_expected_version",
    "run_the_instances",
    "run_the_service",
    "serve_valid_keys",
    "serve_valid_keys_on_every_candidate",
    "settle",
    "speak_modern_tls",
    "stay_under_utilisation",
    "stay_within",
    "stop_observing",
    "verify_tls",
    "wait_little_for_connections",
    "warn",
    "write_media",
]
