"""Named errors. The job runner maps each class to a job state and a reason code."""


class LipoNodeError(Exception):
    """Base class; ``code`` is the machine-readable reason stored in result.json."""

    code = "error"


class ConfigError(LipoNodeError):
    code = "config_error"


class InvalidInstance(LipoNodeError):
    """A received object cannot be stored (not DICOM, missing UIDs, undecodable pixels)."""

    code = "invalid_instance"


class NoT1Series(LipoNodeError):
    """No series of the study qualifies as a T1-weighted image for segmentation."""

    code = "no_t1_series"


class SegmentationError(LipoNodeError):
    code = "segmentation_failed"


class ModelBundleMismatch(LipoNodeError):
    """A model bundle does not fit the installed feature settings or package versions."""

    code = "model_bundle_mismatch"


class ReportError(LipoNodeError):
    code = "report_failed"


class DeliveryError(LipoNodeError):
    code = "delivery_failed"


class DeliveryPending(DeliveryError):
    """The outbox still holds the results and will retry them on its own schedule.

    The job runner waits for the outbox (``retry_after_s``) instead of counting this against
    ``jobs.max_attempts``: the outbox's retry policy (``send.retry``) decides when a delivery
    is given up (dead letter), not the runner.
    """

    code = "delivery_pending"
    keeps_retrying = True

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = max(0.0, retry_after_s)
