//! Whether a failed request may be sent again: the decision every driver would otherwise make.

use ferry_proto::Method;

use crate::error::Error;

/// Whether a request that failed with `error` may be sent once more on a new connection.
///
/// Only a first attempt (`attempt == 0`), only on a connection that was reused (`reused`: a new
/// connection that fails says something about the server, not about staleness), only with a
/// body that can be sent again (`replayable`), and only when [`Error::is_retryable`] says the
/// request cannot have been acted on twice: nothing of it went out, or the connection broke
/// before any response byte and `method` is idempotent (RFC 9110 §9.2.2).
#[must_use]
pub fn may_retry(
    error: &Error,
    attempt: u32,
    reused: bool,
    replayable: bool,
    method: &Method,
) -> bool {
    attempt == 0 && reused && replayable && error.is_retryable(method.is_idempotent())
}
