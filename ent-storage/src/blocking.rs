//! Running a blocking call (an `fsync`, a wait on another process's lock) off the async executor.

/// Runs `f` on tokio's blocking pool when a tokio runtime is current, inline otherwise (a caller that drives
/// the store with another executor blocks its own thread, as it would with any blocking driver).
pub(crate) async fn run<T, F>(f: F) -> T
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => match handle.spawn_blocking(f).await {
            Ok(value) => value,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        },
        Err(_) => f(),
    }
}
