//! Reading feeds ahead of their apply, on one thread of their own.
//!
//! [`super::apply_feeds`] merges consecutive full feeds into batches of up to [`super::MERGED_PEOPLE`]
//! people. Reading only the next feed while one batch was applied left the sixty or so feeds of the next
//! batch to be read one after the other while the apply waited: an académie's 18 s of parsing added to its
//! import. The reader here keeps reading, in order, until the feeds read and not yet taken hold `max_people`
//! people (it always reads at least one feed ahead): about one merged batch ahead, so that the next one is
//! ready when the current one is applied, and the memory held stays bounded.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use futures::StreamExt;
use futures::channel::mpsc;

use super::{AafOptions, Feed, Parsed};
use ent_core::{Error, Result};

/// What the reading thread and its taker share.
#[derive(Default)]
struct Shared {
    /// People in the feeds read and not yet taken.
    buffered: Mutex<usize>,
    /// Signalled when feeds are taken, and when the taker is gone.
    room: Condvar,
    /// The taker is gone: stop reading.
    closed: AtomicBool,
}

impl Shared {
    fn buffered(&self) -> MutexGuard<'_, usize> {
        self.buffered.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The feeds, read in order on a thread of their own (see the module's documentation).
pub(super) struct ReadAhead {
    feeds: mpsc::UnboundedReceiver<Result<Parsed>>,
    shared: Arc<Shared>,
}

impl ReadAhead {
    /// Starts reading `feeds` in order; the thread stops after a feed that cannot be read.
    pub(super) fn start(feeds: Vec<Feed>, options: AafOptions, max_people: usize) -> Result<ReadAhead> {
        let (sender, receiver) = mpsc::unbounded();
        let shared = Arc::new(Shared::default());
        let reader = shared.clone();
        std::thread::Builder::new()
            .name("ent-aaf-read".into())
            .spawn(move || {
                for feed in feeds {
                    {
                        let mut buffered = reader.buffered();
                        while *buffered >= max_people && !reader.closed.load(Ordering::Acquire) {
                            buffered = reader.room.wait(buffered).unwrap_or_else(|e| e.into_inner());
                        }
                    }
                    if reader.closed.load(Ordering::Acquire) {
                        return;
                    }
                    let parsed = feed.parse(&options);
                    let failed = parsed.is_err();
                    if let Ok(p) = &parsed {
                        *reader.buffered() += p.batch.people.len();
                    }
                    if sender.unbounded_send(parsed).is_err() || failed {
                        return;
                    }
                }
            })
            .map_err(|e| Error::storage("aaf", format!("cannot start the thread reading the feeds: {e}"), true))?;
        Ok(ReadAhead { feeds: receiver, shared })
    }

    /// The next feed, read; `None` once every feed was given, or if the reading thread stopped.
    pub(super) async fn next(&mut self) -> Option<Result<Parsed>> {
        let next = self.feeds.next().await;
        if let Some(Ok(parsed)) = &next {
            let mut buffered = self.shared.buffered();
            *buffered = buffered.saturating_sub(parsed.batch.people.len());
            self.shared.room.notify_one();
        }
        next
    }

    #[cfg(test)]
    fn buffered(&self) -> usize {
        *self.shared.buffered()
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        // Under the lock, so that the reader cannot miss the signal between its check and its wait.
        let _buffered = self.shared.buffered();
        self.shared.closed.store(true, Ordering::Release);
        self.shared.room.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FEED: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ficAlimMENESR>
<addRequest>
  <operationalAttributes><attr name="categoriePersonne"><value>Eleve</value></attr></operationalAttributes>
  <identifier><id>{ID}</id></identifier>
  <attributes>
    <attr name="ENTPersonJointure"><value>{ID}</value></attr>
    <attr name="sn"><value>Martin</value></attr>
    <attr name="givenName"><value>Lucas</value></attr>
    <attr name="ENTPersonStructRattach"><value>9001</value></attr>
    <attr name="ENTEleveClasses"><value>9001$3A</value></attr>
  </attributes>
</addRequest>
</ficAlimMENESR>
"#;

    /// Feeds of one pupil each, in a fresh folder.
    fn feeds(dir: &std::path::Path, n: usize) -> Vec<Feed> {
        (0..n)
            .map(|i| {
                let path = dir.join(format!("ENT_0370884K_Complet_2026082{}_Eleve_0000.xml", i % 10));
                std::fs::write(&path, FEED.replace("{ID}", &format!("E{i}"))).unwrap();
                Feed::of_files(vec![path], true)
            })
            .collect()
    }

    #[tokio::test]
    async fn feeds_come_in_order_and_reading_stops_at_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let feeds = feeds(dir.path(), 5);
        let options = AafOptions { year: Some(ent_core::directory::SchoolYear(2026)), ..AafOptions::default() };
        let mut ahead = ReadAhead::start(feeds, options, 2).unwrap();
        // Nothing taken yet: the reader reads two feeds ahead, then waits.
        for _ in 0..200 {
            if ahead.buffered() == 2 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(ahead.buffered(), 2);
        let mut keys = Vec::new();
        for _ in 0..5 {
            // Give the reader time to run ahead: it stops at two people read and not taken.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            assert!(ahead.buffered() <= 2, "{} people read ahead", ahead.buffered());
            let parsed = ahead.next().await.unwrap().unwrap();
            keys.extend(parsed.batch.people.iter().map(|p| p.key.clone()));
        }
        assert_eq!(keys, ["E0", "E1", "E2", "E3", "E4"]);
        assert!(ahead.next().await.is_none());
    }

    #[tokio::test]
    async fn a_taker_that_leaves_stops_the_reader() {
        let dir = tempfile::tempdir().unwrap();
        let options = AafOptions { year: Some(ent_core::directory::SchoolYear(2026)), ..AafOptions::default() };
        let mut ahead = ReadAhead::start(feeds(dir.path(), 4), options, 1).unwrap();
        assert!(ahead.next().await.unwrap().is_ok());
        let shared = ahead.shared.clone();
        drop(ahead);
        // The reader, waiting for room, sees the taker gone and ends: only this test holds `shared` then.
        for _ in 0..200 {
            if Arc::strong_count(&shared) == 1 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the reading thread did not stop");
    }
}
