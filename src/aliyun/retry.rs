//! Retries: exponential backoff with jitter, bounded by attempts and a total deadline.
//!
//! What is retried depends on the call's [`Idempotency`]:
//!
//! | class | calls | retried on |
//! |---|---|---|
//! | [`Idempotency::Idempotent`] | every GET, PUT (Update*, PutProvisionConfig: full replacement), DELETE, OSS part uploads / puts of the same bytes | 429 / `Throttling*`, 5xx, `ConcurrentUpdateError`, connection refused/reset, timeouts |
//! | [`Idempotency::CreateLike`] | Create* (function, alias, trigger, custom domain), OSS InitiateMultipartUpload | same as above. A retry after a lost answer may get `409 *AlreadyExists`: callers do create-or-update and treat it as "exists" (fcctl deploy does) |
//! | [`Idempotency::NotIdempotent`] | PublishFunctionVersion, InvokeFunction, OSS CompleteMultipartUpload | only when the server certainly did not act: 429 / `Throttling*` and connect failures (the request never left). 5xx, resets and timeouts are NOT retried: a blind retry could publish two versions or run the function twice |
//!
//! Deletes are idempotent, but a retried DELETE whose first attempt succeeded answers 404:
//! callers treat `*NotFound` on delete as success.
//!
//! Every attempt is signed afresh by the caller's closure (new `x-acs-date` + nonce).

use std::future::Future;
use std::time::{Duration, Instant};

use super::error::{Error, Result};

/// Whether a call may be repeated after an ambiguous failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    Idempotent,
    CreateLike,
    NotIdempotent,
}

/// Backoff parameters. Delay before retry `n` (1-based) is `min(max_delay, initial * 2^(n-1))`,
/// "equal jitter" (half fixed, half random), and never past `deadline` from the first attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Total attempts including the first (1 = no retries).
    pub max_attempts: u32,
    pub initial_delay: Duration,
    pub max_delay: Duration,
    /// Total time budget for all attempts and sleeps.
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            initial_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            deadline: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Delay before retry number `retry` (1-based), with jitter.
    pub fn delay(&self, retry: u32) -> Duration {
        let exp = retry.saturating_sub(1).min(20);
        let base = self
            .initial_delay
            .saturating_mul(1u32 << exp)
            .min(self.max_delay);
        let half = base / 2;
        let jitter_ms = half.as_millis() as u64;
        let jitter = if jitter_ms == 0 {
            Duration::ZERO
        } else {
            Duration::from_millis(rand::random_range(0..=jitter_ms))
        };
        half + jitter
    }
}

/// Is this failure worth another attempt for a call of class `idem`?
pub fn is_retryable(idem: Idempotency, err: &Error) -> bool {
    match err {
        Error::Api(e) => match idem {
            Idempotency::NotIdempotent => e.is_throttling() && e.status < 500,
            _ => e.is_transient(),
        },
        Error::Transport { source, .. } => match idem {
            Idempotency::NotIdempotent => source.is_connect(),
            _ => {
                source.is_connect()
                    || source.is_timeout()
                    || source.is_request()
                    || source.is_body()
            }
        },
        _ => false,
    }
}

/// Run `op` (given the 1-based attempt number) until it succeeds, fails permanently, or
/// the policy's attempts / deadline run out. After more than one attempt a final failure
/// is wrapped in [`Error::RetriesExhausted`].
pub async fn run<T, F, Fut>(
    policy: &RetryPolicy,
    idem: Idempotency,
    what: &str,
    mut op: F,
) -> Result<T>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let start = Instant::now();
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let err = match op(attempt).await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let retryable = is_retryable(idem, &err);
        let delay = policy.delay(attempt);
        let out_of_time = start.elapsed() + delay > policy.deadline;
        if !retryable || attempt >= policy.max_attempts.max(1) || out_of_time {
            if attempt == 1 || !retryable {
                return Err(err);
            }
            return Err(Error::RetriesExhausted {
                attempts: attempt,
                elapsed_ms: start.elapsed().as_millis(),
                last: Box::new(err),
            });
        }
        tracing::warn!(
            target: "fcctl::aliyun",
            call = what,
            attempt,
            delay_ms = delay.as_millis() as u64,
            error = %first_line(&err),
            "{what} failed ({}); retrying in {} ms",
            err.short_reason(),
            delay.as_millis()
        );
        tokio::time::sleep(delay).await;
    }
}

fn first_line(e: &Error) -> String {
    e.to_string().lines().next().unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aliyun::error::ApiError;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn api(status: u16, code: &str) -> Error {
        ApiError {
            action: "X".into(),
            method: "GET".into(),
            path: "/".into(),
            status,
            code: code.into(),
            message: String::new(),
            request_id: None,
        }
        .into()
    }

    fn fast() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            initial_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(4),
            deadline: Duration::from_secs(5),
        }
    }

    #[test]
    fn delays_grow_and_are_capped() {
        let p = RetryPolicy::default();
        for n in 1..30 {
            let d = p.delay(n);
            assert!(d <= p.max_delay, "{n}: {d:?}");
        }
        assert!(p.delay(1) >= Duration::from_millis(100));
        assert!(p.delay(1) <= Duration::from_millis(200));
        assert!(p.delay(4) >= Duration::from_millis(800));
    }

    #[test]
    fn classification_by_idempotency() {
        use Idempotency::*;
        assert!(is_retryable(Idempotent, &api(503, "ServiceUnavailable")));
        assert!(is_retryable(CreateLike, &api(500, "InternalServerError")));
        assert!(!is_retryable(
            NotIdempotent,
            &api(500, "InternalServerError")
        ));
        assert!(is_retryable(NotIdempotent, &api(429, "TooManyRequests")));
        assert!(!is_retryable(Idempotent, &api(400, "InvalidArgument")));
        assert!(!is_retryable(Idempotent, &api(404, "FunctionNotFound")));
    }

    #[tokio::test]
    async fn retries_until_success() {
        let n = AtomicU32::new(0);
        let r = run(&fast(), Idempotency::Idempotent, "t", |_| async {
            if n.fetch_add(1, Ordering::SeqCst) < 3 {
                Err(api(429, "Throttling"))
            } else {
                Ok(7)
            }
        })
        .await;
        assert_eq!(r.unwrap(), 7);
        assert_eq!(n.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn gives_up_after_max_attempts() {
        let n = AtomicU32::new(0);
        let r: Result<()> = run(&fast(), Idempotency::Idempotent, "t", |_| async {
            n.fetch_add(1, Ordering::SeqCst);
            Err(api(503, "ServiceUnavailable"))
        })
        .await;
        assert!(matches!(
            r,
            Err(Error::RetriesExhausted { attempts: 5, .. })
        ));
        assert_eq!(r.unwrap_err().code(), Some("ServiceUnavailable"));
    }

    #[tokio::test]
    async fn permanent_error_is_not_retried() {
        let n = AtomicU32::new(0);
        let r: Result<()> = run(&fast(), Idempotency::Idempotent, "t", |_| async {
            n.fetch_add(1, Ordering::SeqCst);
            Err(api(400, "InvalidArgument"))
        })
        .await;
        assert!(matches!(r, Err(Error::Api(_))));
        assert_eq!(n.load(Ordering::SeqCst), 1);
    }
}
