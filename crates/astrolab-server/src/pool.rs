//! A small pool of store connections for the async server.
//!
//! The store is synchronous (rusqlite, the blocking `postgres` client), so
//! each request borrows one `Store` and runs on tokio's blocking threads.
//! The pool opens connections lazily up to `max` and reports its use to
//! the metrics.

use std::sync::{Arc, Mutex};

use astrolab_store::{Store, StoreConfig};
use tokio::sync::Semaphore;

use crate::error::{ApiError, ApiResult};

/// SQLite page cache per pooled connection, MiB: the OS page cache holds
/// the hot pages once for all of them.
const CACHE_MIB: u32 = 32;

/// Shared, cloneable pool handle.
#[derive(Clone)]
pub struct StorePool {
    inner: Arc<Inner>,
}

struct Inner {
    config: StoreConfig,
    idle: Mutex<Vec<Store>>,
    permits: Semaphore,
    max: usize,
}

impl Drop for Inner {
    /// Closes the connections off the async runtime: the blocking
    /// PostgreSQL client shuts its connection down by blocking on a
    /// runtime of its own, which a thread that drives tokio may not do
    /// (the pool is dropped with the last `AppState`, possibly there).
    fn drop(&mut self) {
        let stores = match self.idle.get_mut() {
            Ok(v) => std::mem::take(v),
            Err(poisoned) => std::mem::take(poisoned.into_inner()),
        };
        if !stores.is_empty() && tokio::runtime::Handle::try_current().is_ok() {
            let _ = std::thread::spawn(move || drop(stores)).join();
        }
    }
}

/// Pool use, for `/metrics`.
#[derive(Debug, Clone, Copy)]
pub struct PoolUse {
    /// Connections open and waiting.
    pub idle: usize,
    /// Connections lent to a request now.
    pub in_use: usize,
    /// Upper bound.
    pub max: usize,
}

impl StorePool {
    /// A pool of at most `max` connections to the store; opens (and
    /// migrates) one connection now so a bad configuration fails at start.
    pub fn open(config: StoreConfig, max: usize) -> astrolab_store::Result<StorePool> {
        let mut first = Store::open(&config)?;
        first.set_cache_mib(CACHE_MIB)?;
        let max = max.max(1);
        Ok(StorePool {
            inner: Arc::new(Inner {
                config,
                idle: Mutex::new(vec![first]),
                permits: Semaphore::new(max),
                max,
            }),
        })
    }

    /// The store configuration.
    pub fn config(&self) -> &StoreConfig {
        &self.inner.config
    }

    /// Runs `f` with a connection on a blocking thread. A connection whose
    /// work failed with a connection-level error is dropped, not reused.
    pub async fn run<T, F>(&self, f: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> ApiResult<T> + Send + 'static,
    {
        let _permit = self
            .inner
            .permits
            .acquire()
            .await
            .map_err(|_| ApiError::unavailable("server shutting down"))?;
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let taken = inner.idle.lock().map(|mut v| v.pop()).unwrap_or(None);
            let mut store = match taken {
                Some(s) => s,
                None => {
                    let mut s = Store::open(&inner.config).map_err(|e| {
                        tracing::warn!(error = %e, "cannot open a database connection");
                        ApiError::unavailable("database unavailable")
                    })?;
                    s.set_cache_mib(CACHE_MIB)?;
                    s
                }
            };
            let out = f(&mut store);
            let broken = matches!(&out, Err(e) if e.code == "unavailable");
            if !broken {
                if let Ok(mut idle) = inner.idle.lock() {
                    idle.push(store);
                }
            }
            out
        })
        .await
        .map_err(ApiError::internal)?
    }

    /// Current use of the pool.
    pub fn usage(&self) -> PoolUse {
        let idle = self.inner.idle.lock().map(|v| v.len()).unwrap_or(0);
        let in_use = self.inner.max - self.inner.permits.available_permits();
        PoolUse {
            idle,
            in_use,
            max: self.inner.max,
        }
    }
}
