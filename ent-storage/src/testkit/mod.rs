//! The public **conformance testkit**: the cases every storage adapter passes, ours or a third party's.
//!
//! Each case receives a fresh, empty store (and, for blob cases, a fresh blob store), drives it through
//! `ent-core`'s port traits only ([`Store`], [`Transaction`], [`BlobStore`]) and checks what the contract in
//! [`ent_core::storage::port`] promises: every operation and its edge cases, the typed error of every misuse
//! (and that the misuse left the store *exactly* as it was), rollback, serializable isolation (no lost
//! update, no write skew, no phantom), counters under concurrency, the typed layer, and the blob port with
//! its reference counts. [`cases`] lists them; each has a name `category::case`.
//!
//! # Running it on an adapter
//!
//! Give the testkit a *factory*: a closure returning a future of a fresh, empty store. In the adapter's
//! integration tests (with `ent-storage`'s `testkit` feature), one line writes one `#[test]` per case, so
//! that a failure names its case:
//!
//! ```text
//! // tests/conformance.rs of a third-party adapter crate
//! mod conformance {
//!     use my_adapter::MyStore;
//!     ent_storage::conformance_tests!(|| async { MyStore::open_fresh().await.unwrap() });
//!     ent_storage::blob_conformance_tests!(
//!         || async { MyStore::open_fresh().await.unwrap() },
//!         || async { my_adapter::MyBlobs::temporary(1 << 20) }
//!     );
//! }
//! ```
//!
//! Each test runs its case on a multi-thread tokio runtime with 2 workers, under a time limit of
//! [`CASE_TIMEOUT`]. An adapter that prefers one call runs [`run_all`] and inspects the [`Report`]:
//!
//! ```
//! # #[cfg(feature = "memory")]
//! # {
//! use ent_storage::memory::{MemoryBlobStore, MemoryStore};
//! use ent_storage::testkit;
//!
//! let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
//! let report = rt.block_on(testkit::run_all(
//!     || async { MemoryStore::new() },
//!     Some(|| async { MemoryBlobStore::new(1 << 20, std::sync::Arc::new(ent_core::clock::SystemClock)) }),
//! ));
//! assert!(report.cases.len() >= 100);
//! println!("{report}");
//! # }
//! ```
//!
//! # What an adapter must allow
//!
//! - Several transactions open at once **in one task**: the isolation cases interleave two transactions
//!   step by step. An adapter may make one of them fail with a retryable conflict, at an operation or at
//!   commit, but must never wait for the other transaction indefinitely.
//! - [`Limits`](ent_core::storage::Limits) of its own: the cases read [`Store::limits`] and probe just at
//!   and just past each limit (a batch past `max_batch_ops` is built in memory, so keep it reasonable).
//! - For the blob cases, a small [`BlobStore::max_blob_bytes`] (1 MiB is plenty) keeps them fast: two cases
//!   write a blob of exactly the limit and one byte more.
//! - Stored JSON may be reformatted (key order, spaces): the cases compare records as JSON values.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ent_core::storage::Store;
use ent_core::storage::blob::BlobStore;
use futures::future::BoxFuture;

#[macro_use]
mod check;
mod cases;
mod fixtures;

pub use check::Failure;

/// How long one case may run before it fails (an adapter that deadlocks fails instead of hanging).
pub const CASE_TIMEOUT: Duration = Duration::from_secs(120);

/// Makes a fresh, empty store for each case.
///
/// Implemented by every closure `Fn() -> impl Future<Output = S>` where `S` is a [`Store`] (the testkit
/// wraps it in an `Arc`). An adapter whose stores only come as `Arc<dyn Store>` implements it directly.
pub trait StoreFactory: Send + Sync {
    /// A fresh, empty store: no collection declared, no record, no counter.
    fn fresh(&self) -> BoxFuture<'static, Arc<dyn Store>>;
}

impl<F, Fut, S> StoreFactory for F
where
    F: Fn() -> Fut + Send + Sync,
    Fut: Future<Output = S> + Send + 'static,
    S: Store,
{
    fn fresh(&self) -> BoxFuture<'static, Arc<dyn Store>> {
        let fut = self();
        Box::pin(async move { Arc::new(fut.await) as Arc<dyn Store> })
    }
}

/// Makes a fresh, empty blob store for each blob case. Implemented by closures like [`StoreFactory`].
pub trait BlobFactory: Send + Sync {
    /// A fresh, empty blob store.
    fn fresh(&self) -> BoxFuture<'static, Arc<dyn BlobStore>>;
}

impl<F, Fut, B> BlobFactory for F
where
    F: Fn() -> Fut + Send + Sync,
    Fut: Future<Output = B> + Send + 'static,
    B: BlobStore,
{
    fn fresh(&self) -> BoxFuture<'static, Arc<dyn BlobStore>> {
        let fut = self();
        Box::pin(async move { Arc::new(fut.await) as Arc<dyn BlobStore> })
    }
}

/// What a case returns: `Ok` when every check held.
pub type Outcome = Result<(), Failure>;

/// A case on a record store.
pub type StoreCase = fn(Arc<dyn Store>) -> BoxFuture<'static, Outcome>;

/// A case on a blob store and the record store that holds its reference counts.
pub type BlobCase = fn(Arc<dyn Store>, Arc<dyn BlobStore>) -> BoxFuture<'static, Outcome>;

/// The body of a case.
#[derive(Clone, Copy)]
pub enum Body {
    /// A case on a record store.
    Store(StoreCase),
    /// A case on a blob store and the record store that holds its reference counts.
    Blob(BlobCase),
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Body::Store(_) => "Body::Store",
            Body::Blob(_) => "Body::Blob",
        })
    }
}

/// One conformance case.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    /// `category::case`, also the path of its `#[test]` under the macros' `conformance` module.
    pub name: &'static str,
    /// The category: `declare`, `reads`, `inserts`, `updates`, `deletes`, `ranges`, `scans`, `keys`,
    /// `counters`, `batches`, `transactions`, `typed` or `blobs`.
    pub category: &'static str,
    /// What it runs.
    pub body: Body,
}

/// The cases, one list that both [`cases`] and the test macros are written from.
macro_rules! suite {
    ($d:tt; $($cat:ident { $($name:ident),* $(,)? })* ; blobs { $($bname:ident),* $(,)? }) => {
        /// Every case of the testkit, in a stable order.
        pub fn cases() -> Vec<Case> {
            vec![
                $($(Case {
                    name: concat!(stringify!($cat), "::", stringify!($name)),
                    category: stringify!($cat),
                    body: Body::Store(|s| Box::pin(cases::$cat::$name(s))),
                },)*)*
                $(Case {
                    name: concat!("blobs::", stringify!($bname)),
                    category: "blobs",
                    body: Body::Blob(|s, b| Box::pin(cases::blobs::$bname(s, b))),
                },)*
            ]
        }

        /// Writes one `#[test]` per record-store case of the testkit (module `conformance`, one submodule
        /// per category), each running its case on a fresh store from the factory.
        ///
        /// The argument is a [`StoreFactory`](crate::testkit::StoreFactory), typically
        /// `|| async { MyStore::new() }`. See [`crate::testkit`].
        #[macro_export]
        macro_rules! conformance_tests {
            ($d factory:expr $d(,)?) => {
                #[allow(unused_imports)]
                mod conformance {
                    use super::*;
                    $(
                        mod $cat {
                            use super::*;
                            $(
                                #[test]
                                fn $name() {
                                    $d crate::testkit::run_store_case(
                                        concat!(stringify!($cat), "::", stringify!($name)),
                                        &$d factory,
                                    );
                                }
                            )*
                        }
                    )*
                }
            };
        }

        /// Writes one `#[test]` per blob case of the testkit (module `blob_conformance`), each running its
        /// case on a fresh record store and a fresh blob store from the two factories.
        ///
        /// See [`crate::testkit`].
        #[macro_export]
        macro_rules! blob_conformance_tests {
            ($d store:expr, $d blobs:expr $d(,)?) => {
                #[allow(unused_imports)]
                mod blob_conformance {
                    use super::*;
                    $(
                        #[test]
                        fn $bname() {
                            $d crate::testkit::run_blob_case(
                                concat!("blobs::", stringify!($bname)),
                                &$d store,
                                &$d blobs,
                            );
                        }
                    )*
                }
            };
        }
    };
}

suite! {
    $;
    declare {
        creates_and_reports, collections_lists_declarations, is_idempotent, reports_new_index, reports_dropped_index, refuses_changed_primary_key, refuses_changed_index_fields, refuses_changed_uniqueness, refuses_invalid_collection_names, refuses_invalid_index_names, all_or_nothing, unknown_collection_everywhere,
    }
    reads {
        get_missing_is_none, get_returns_the_envelope, get_many_keeps_order_missing_and_duplicates, get_many_empty, get_wrong_key_type, get_wrong_key_arity, get_sees_committed_data_of_others,
    }
    inserts {
        returns_version_1, duplicate_id, duplicate_id_within_transaction, duplicate_unique_key, duplicate_unique_key_within_transaction, same_unique_key_twice_in_one_record, shared_non_unique_key, id_wrong_type, id_wrong_arity, entry_wrong_type, entry_wrong_arity, unknown_index, record_over_limit, record_at_limit, id_over_key_limit, index_key_over_limit, key_at_limit, nan_in_key, zero_one_or_many_entries,
    }
    updates {
        bumps_version, stale_version, future_version, missing_record, replaces_index_entries, removes_all_entries, moves_unique_key_between_records, swaps_unique_keys_through_a_third, to_taken_unique_key, keeps_own_unique_key, over_limit, wrong_entry_type, stores_new_schema_version, record_inserted_in_same_transaction,
    }
    deletes {
        removes_record_and_entries, absent_is_false, conditional_at_version, conditional_stale, conditional_absent, frees_unique_key, wrong_key_type,
    }
    ranges {
        primary_prefix, primary_bounds, whole_collection, index_range, empty_range, ignores_limit, wrong_bound_type,
    }
    scans {
        primary_in_key_order, primary_keys_are_ids, prefix, included_start, excluded_start, included_end, excluded_end, bounds_cover_extensions, backward, backward_with_bounds, next_exactly_when_more, paging_forward, paging_backward, cursor_after_concurrent_inserts, cursor_after_concurrent_inserts_backward, cursor_after_deletion_of_its_entry, cursor_after_deletions_on_index, cursor_pages_through_ties, cursor_from_another_index, cursor_from_another_collection, cursor_from_the_other_direction, garbage_cursor, cursor_survives_serialization, limit_zero, limit_above_max, limit_at_max, index_only, empty_collection, empty_range, start_after_end, multi_entry_record_appears_per_entry, ties_ordered_by_id, unknown_index, prefix_wrong_type, prefix_too_long, bound_wrong_type, entries_carry_records, sees_own_writes, count_ignores_limit_and_cursor,
    }
    keys {
        unicode_by_code_point, strings_with_nul_bytes, unicode_round_trips, mixed_kinds_in_any, any_prefix_selects_one_kind_range, integers, floats, negative_zero_is_zero, timestamps_before_and_after_1970, timestamps_round_trip_to_the_microsecond, nulls_first, nulls_first_in_composite_keys, bytes_bytewise, uuids_bytewise, composite_prefix_sorts_first,
    }
    counters {
        missing_is_zero, add_and_subtract, own_increments_visible, rollback_discards, keys_and_collections_are_independent, concurrent_tasks_exact_sum, concurrent_increments_never_conflict, increments_beside_record_writes_never_conflict, read_then_concurrent_increment, read_only_reader_sees_a_snapshot, errors, failed_increment_keeps_earlier_ones,
    }
    batches {
        every_outcome, all_or_nothing, failure_in_last_op, failed_first_write_leaves_the_transaction_usable, ops_see_earlier_ops, unique_conflict_inside_batch, empty_batch, too_many_ops, large_batch_at_limit_or_ten_thousand, large_failed_batches_leave_the_transaction_usable, errors_are_typed,
    }
    transactions {
        uncommitted_writes_invisible, read_your_writes, rollback_discards_everything, drop_rolls_back, read_only_reads_and_commits, read_only_refuses_insert, read_only_refuses_update, read_only_refuses_delete, read_only_refuses_delete_range, read_only_refuses_counter_add, read_only_refuses_write_batch, snapshot_stability, lost_update_prevented, lost_update_prevented_on_blind_overwrite, write_skew_prevented_with_count, write_skew_prevented_with_scan, phantom_prevented, phantom_prevented_on_empty_range, concurrent_inserts_of_one_id, concurrent_unique_key_race, conflict_is_typed_and_retryable, failed_commit_applies_nothing, retry_converges_under_contention, failed_operation_leaves_transaction_usable, commit_makes_versions_visible,
    }
    typed {
        insert_get_update, missing_and_duplicates, scan_records, upgrades_old_schema_versions, refuses_newer_schema_versions, reindex_fills_a_new_index,
    }
    ;
    blobs {
        put_read_stat, same_bytes_stored_once, empty_blob, chunked_write_and_streamed_read, too_large_leaves_nothing, at_the_limit, missing_blob, remove_blob, list_pages_in_id_order, reference_counts, gc_removes_only_unreferenced, gc_spares_young_blobs, gc_after_last_release, store_again_after_collection, gc_never_removes_a_blob_referenced_meanwhile, acquire_during_collection_fails, acquire_after_collection_fails, acquire_of_unknown_bytes_fails,
    }
}

/// The result of one case in a [`Report`].
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// The case's name.
    pub name: &'static str,
    /// `Err` with what went wrong.
    pub outcome: Result<(), String>,
}

/// What [`run_all`] found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Every case run, in order.
    pub cases: Vec<CaseResult>,
}

impl Report {
    /// The cases that failed.
    pub fn failures(&self) -> impl Iterator<Item = &CaseResult> {
        self.cases.iter().filter(|c| c.outcome.is_err())
    }

    /// Whether every case passed.
    pub fn all_passed(&self) -> bool {
        self.failures().next().is_none()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let failed = self.failures().count();
        writeln!(f, "{} cases, {} passed, {} failed", self.cases.len(), self.cases.len() - failed, failed)?;
        for case in self.failures() {
            if let Err(message) = &case.outcome {
                writeln!(f, "FAILED {}: {}", case.name, message)?;
            }
        }
        Ok(())
    }
}

/// Runs every case (the blob cases too when a blob factory is given), one after the other, each on a fresh
/// store, and reports each outcome; a panicking case is reported as failed. Call it from within a tokio
/// runtime (the concurrency cases spawn tasks).
pub async fn run_all<S: StoreFactory, B: BlobFactory>(stores: S, blobs: Option<B>) -> Report {
    let mut report = Report::default();
    for case in cases() {
        let future = match case.body {
            Body::Store(body) => body(stores.fresh().await),
            Body::Blob(body) => match &blobs {
                Some(blobs) => body(stores.fresh().await, blobs.fresh().await),
                None => continue,
            },
        };
        let outcome = run_guarded(future).await;
        report.cases.push(CaseResult { name: case.name, outcome });
    }
    report
}

/// Runs a case in its own task (so that a panic is caught) under [`CASE_TIMEOUT`].
async fn run_guarded(future: BoxFuture<'static, Outcome>) -> Result<(), String> {
    let task = tokio::spawn(tokio::time::timeout(CASE_TIMEOUT, future));
    match task.await {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(failure))) => Err(failure.to_string()),
        Ok(Err(_)) => Err(format!("did not finish within {CASE_TIMEOUT:?} (a deadlock?)")),
        Err(e) => match e.try_into_panic() {
            Ok(panic) => Err(format!("panicked: {}", panic_message(&*panic))),
            Err(e) => Err(format!("task failed: {e}")),
        },
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without message".to_owned())
}

fn find(name: &str) -> Case {
    cases().into_iter().find(|c| c.name == name).unwrap_or_else(|| panic!("no testkit case named `{name}`"))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("cannot start a tokio runtime: {e}"))
}

/// Runs one record-store case by name on a fresh store and panics with the failure; what
/// [`conformance_tests!`](crate::conformance_tests) expands to.
pub fn run_store_case(name: &str, stores: &dyn StoreFactory) {
    let case = find(name);
    let Body::Store(body) = case.body else { panic!("`{name}` is a blob case") };
    let outcome = runtime().block_on(async { run_guarded(body(stores.fresh().await)).await });
    if let Err(message) = outcome {
        panic!("conformance case {name} failed: {message}");
    }
}

/// Runs one blob case by name on fresh stores and panics with the failure; what
/// [`blob_conformance_tests!`](crate::blob_conformance_tests) expands to.
pub fn run_blob_case(name: &str, stores: &dyn StoreFactory, blobs: &dyn BlobFactory) {
    let case = find(name);
    let Body::Blob(body) = case.body else { panic!("`{name}` is not a blob case") };
    let outcome = runtime().block_on(async { run_guarded(body(stores.fresh().await, blobs.fresh().await)).await });
    if let Err(message) = outcome {
        panic!("conformance case {name} failed: {message}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_categorised() {
        let all = cases();
        assert!(all.len() >= 100, "only {} cases", all.len());
        let mut names: Vec<_> = all.iter().map(|c| c.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len(), "duplicate case names");
        for case in &all {
            assert!(case.name.starts_with(&format!("{}::", case.category)), "{}", case.name);
        }
    }
}
