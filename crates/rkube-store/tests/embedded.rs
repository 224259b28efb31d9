//! Durability and disk-space tests of the embedded backend.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rkube_store::{EmbeddedOptions, EmbeddedStore, Error, KeyValue, ListOptions, Store, ValueFn};

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

fn value(text: &str) -> ValueFn {
    let bytes = text.as_bytes().to_vec();
    Box::new(move |_| Ok(bytes))
}

fn sized_value(len: usize, tag: u64) -> ValueFn {
    Box::new(move |revision| {
        let mut bytes = format!("{tag}:{revision}:").into_bytes();
        bytes.resize(len, b'x');
        Ok(bytes)
    })
}

async fn all(store: &EmbeddedStore) -> Result<Vec<KeyValue>, Error> {
    Ok(store.list("", ListOptions::default()).await?.items)
}

fn files_with_prefix(dir: &Path, prefix: &str) -> Result<Vec<PathBuf>, std::io::Error> {
    let mut paths: Vec<PathBuf> = fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with(prefix))
        })
        .collect();
    paths.sort();
    Ok(paths)
}

/// The newest segment that holds data.
fn last_nonempty_segment(dir: &Path) -> Result<PathBuf, Box<dyn std::error::Error + Send + Sync>> {
    let segments = files_with_prefix(dir, "wal-")?;
    segments
        .into_iter()
        .rev()
        .find(|path| {
            fs::metadata(path)
                .map(|meta| meta.len() > 0)
                .unwrap_or(false)
        })
        .ok_or_else(|| "no non-empty segment".into())
}

fn dir_bytes(dir: &Path) -> Result<u64, std::io::Error> {
    let mut total = 0;
    for entry in fs::read_dir(dir)? {
        total += entry?.metadata()?.len();
    }
    Ok(total)
}

/// Writes a mix of creates, updates and deletes; returns the final contents.
async fn write_mix(store: &EmbeddedStore) -> Result<Vec<KeyValue>, Error> {
    for i in 0..50 {
        store
            .create(&format!("/k/{i:02}"), value(&format!("v{i}")))
            .await?;
    }
    for i in (0..50).step_by(3) {
        let key = format!("/k/{i:02}");
        let current = store.get(&key).await?.ok_or(Error::NotFound(key.clone()))?;
        store
            .update(&key, current.mod_revision, value(&format!("u{i}")))
            .await?;
    }
    for i in (0..50).step_by(5) {
        store.delete(&format!("/k/{i:02}"), None).await?;
    }
    all(store).await
}

#[tokio::test]
async fn reopen_after_drop_keeps_everything() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (contents, revision) = {
        let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default())?;
        let contents = write_mix(&store).await?;
        (contents, store.current_revision())
    };
    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default())?;
    assert_eq!(all(&store).await?, contents);
    assert_eq!(store.current_revision(), revision);
    // Without a snapshot the whole WAL is history: a watch from 0 replays every write.
    let mut stream = store.watch("/", 0)?;
    let mut events = 0;
    while let Ok(batch) = stream.try_recv() {
        events += batch.len();
    }
    assert_eq!(events as u64, revision);
    let next = store.create("/new", value("x")).await?;
    assert_eq!(next.mod_revision, revision + 1);
    Ok(())
}

#[tokio::test]
async fn revision_survives_deleting_everything() -> TestResult {
    let dir = tempfile::tempdir()?;
    // Snapshot after every batch when none is running, so the revision must come from the
    // snapshot itself.
    let options = EmbeddedOptions {
        snapshot_min_wal_bytes: 0,
        snapshot_wal_ratio: 0,
        ..EmbeddedOptions::default()
    };
    {
        let store = EmbeddedStore::open(dir.path(), options)?;
        store.create("/a", value("1")).await?;
        tokio::time::timeout(Duration::from_secs(10), async {
            while store.stats().snapshots_written == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await?;
        store.delete("/a", None).await?;
        store.close();
        assert_eq!(store.stats().snapshots_written, 2);
    }
    for segment in files_with_prefix(dir.path(), "wal-")? {
        assert_eq!(
            fs::metadata(&segment)?.len(),
            0,
            "{} still holds records",
            segment.display()
        );
    }
    let store = EmbeddedStore::open(dir.path(), options)?;
    assert_eq!(store.current_revision(), 2);
    assert!(all(&store).await?.is_empty());
    assert_eq!(
        store.compacted_revision(),
        2,
        "history restarts at the snapshot"
    );
    assert!(matches!(store.watch("/", 1), Err(Error::Compacted { .. })));
    assert_eq!(store.create("/c", value("1")).await?.mod_revision, 3);
    drop(store);
    let store = EmbeddedStore::open(dir.path(), options)?;
    assert_eq!(store.current_revision(), 3);
    assert_eq!(store.get("/c").await?.map(|kv| kv.create_revision), Some(3));
    Ok(())
}

#[tokio::test]
async fn torn_last_record_is_cut_off() -> TestResult {
    let dir = tempfile::tempdir()?;
    let contents = {
        let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default())?;
        write_mix(&store).await?;
        store.create("/last", value("torn")).await?;
        all(&store).await?
    };
    // A crash in the middle of appending the last record.
    let segment = last_nonempty_segment(dir.path())?;
    let len = fs::metadata(&segment)?.len();
    OpenOptions::new()
        .write(true)
        .open(&segment)?
        .set_len(len - 3)?;
    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default())?;
    let expected: Vec<KeyValue> = contents
        .into_iter()
        .filter(|kv| kv.key != "/last")
        .collect();
    assert_eq!(all(&store).await?, expected);
    let revision = store.current_revision();
    assert_eq!(
        store.create("/after", value("1")).await?.mod_revision,
        revision + 1
    );
    drop(store);
    // The cut is permanent: the torn bytes do not reappear as damage in a middle segment.
    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default())?;
    assert_eq!(store.current_revision(), revision + 1);
    Ok(())
}

#[tokio::test]
async fn garbage_after_the_last_record_is_ignored() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (contents, revision) = {
        let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default())?;
        let contents = write_mix(&store).await?;
        (contents, store.current_revision())
    };
    let segment = last_nonempty_segment(dir.path())?;
    OpenOptions::new()
        .append(true)
        .open(&segment)?
        .write_all(&[0x17, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7])?;
    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default())?;
    assert_eq!(all(&store).await?, contents);
    assert_eq!(store.current_revision(), revision);
    assert_eq!(
        store.create("/more", value("1")).await?.mod_revision,
        revision + 1
    );
    Ok(())
}

#[tokio::test]
async fn damage_before_the_tail_is_corruption() -> TestResult {
    let dir = tempfile::tempdir()?;
    {
        let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default())?;
        write_mix(&store).await?;
    }
    let segment = last_nonempty_segment(dir.path())?;
    let mut data = fs::read(&segment)?;
    data[20] ^= 0x55; // inside the first record
    fs::write(&segment, &data)?;
    match EmbeddedStore::open(dir.path(), EmbeddedOptions::default()) {
        Err(Error::Corrupt(message)) => assert!(message.contains("wal-"), "{message}"),
        other => panic!("expected Corrupt, got {:?}", other.map(|_| ())),
    }
    Ok(())
}

#[tokio::test]
async fn damage_in_an_older_segment_is_corruption() -> TestResult {
    let dir = tempfile::tempdir()?;
    {
        let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default())?;
        store.create("/a", value("1")).await?;
    }
    {
        let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default())?;
        store.create("/b", value("1")).await?;
    }
    let segments = files_with_prefix(dir.path(), "wal-")?;
    assert!(segments.len() >= 2);
    let first = &segments[0];
    let len = fs::metadata(first)?.len();
    OpenOptions::new()
        .write(true)
        .open(first)?
        .set_len(len - 1)?;
    assert!(matches!(
        EmbeddedStore::open(dir.path(), EmbeddedOptions::default()),
        Err(Error::Corrupt(_))
    ));
    Ok(())
}

#[tokio::test]
async fn second_open_of_the_same_directory_fails() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default())?;
    assert!(matches!(
        EmbeddedStore::open(dir.path(), EmbeddedOptions::default()),
        Err(Error::Io { .. })
    ));
    store.close();
    assert!(matches!(
        store.create("/a", value("1")).await,
        Err(Error::Closed)
    ));
    drop(store);
    let reopened = EmbeddedStore::open(dir.path(), EmbeddedOptions::default())?;
    assert_eq!(reopened.current_revision(), 0);
    Ok(())
}

#[tokio::test]
async fn close_ends_watch_streams() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default())?;
    let mut stream = store.watch("/", 0)?;
    store.close();
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(5), stream.recv()).await?,
        None
    );
    assert!(matches!(store.watch("/", 0), Err(Error::Closed)));
    assert!(
        store.get("/a").await?.is_none(),
        "reads still work after close"
    );
    Ok(())
}

#[tokio::test]
async fn history_is_compacted_automatically() -> TestResult {
    let dir = tempfile::tempdir()?;
    let options = EmbeddedOptions {
        history_revisions: 100,
        ..EmbeddedOptions::default()
    };
    let store = EmbeddedStore::open(dir.path(), options)?;
    let mut revision = store.create("/k", value("0")).await?.mod_revision;
    for i in 1..300 {
        revision = store
            .update("/k", revision, value(&i.to_string()))
            .await?
            .mod_revision;
    }
    assert_eq!(store.compacted_revision(), 200);
    assert!(matches!(
        store.watch("/", 199),
        Err(Error::Compacted { .. })
    ));
    assert!(store.watch("/", 200).is_ok());
    Ok(())
}

/// 100k updates of 100 keys with ~500-byte values leave the directory within a small multiple of
/// the live data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_use_stays_bounded_under_churn() -> TestResult {
    const KEYS: u64 = 100;
    const UPDATES_PER_KEY: u64 = 1_000;
    const VALUE_BYTES: usize = 500;
    let dir = tempfile::tempdir()?;
    let store = Arc::new(EmbeddedStore::open(dir.path(), EmbeddedOptions::default())?);
    let mut tasks = Vec::new();
    for key_index in 0..KEYS {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let key = format!("/churn/{key_index:03}");
            let mut revision = store
                .create(&key, sized_value(VALUE_BYTES, key_index))
                .await?
                .mod_revision;
            for _ in 1..UPDATES_PER_KEY {
                revision = store
                    .update(&key, revision, sized_value(VALUE_BYTES, key_index))
                    .await?
                    .mod_revision;
            }
            Ok::<_, Error>(revision)
        }));
    }
    let mut last_revisions = Vec::new();
    for task in tasks {
        last_revisions.push(task.await??);
    }
    store.close();
    let stats = store.stats();
    assert_eq!(stats.current_revision, KEYS * UPDATES_PER_KEY);
    assert!(
        stats.snapshots_written > 10,
        "snapshots written: {}",
        stats.snapshots_written
    );
    let live = stats.live_bytes;
    let on_disk = dir_bytes(dir.path())?;
    assert!(
        on_disk <= 4 * live + (1 << 20),
        "{on_disk} bytes on disk for {live} live bytes"
    );
    let contents = all(&store).await?;
    drop(store);

    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default())?;
    assert_eq!(store.current_revision(), KEYS * UPDATES_PER_KEY);
    assert_eq!(all(&store).await?, contents);
    let mut reopened_revisions: Vec<u64> = contents.iter().map(|kv| kv.mod_revision).collect();
    reopened_revisions.sort();
    last_revisions.sort();
    assert_eq!(reopened_revisions, last_revisions);
    Ok(())
}

#[tokio::test]
async fn segments_left_over_from_a_crash_during_cleanup_are_ignored() -> TestResult {
    let dir = tempfile::tempdir()?;
    let contents = {
        let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default())?;
        write_mix(&store).await?
    };
    let old_segment = last_nonempty_segment(dir.path())?;
    let mut old_data = fs::read(&old_segment)?;
    let snapshot_always = EmbeddedOptions {
        snapshot_min_wal_bytes: 0,
        snapshot_wal_ratio: 0,
        ..EmbeddedOptions::default()
    };
    let contents = {
        let store = EmbeddedStore::open(dir.path(), snapshot_always)?;
        store.create("/after", value("1")).await?;
        store.close();
        assert_eq!(store.stats().snapshots_written, 1);
        let mut contents = contents;
        contents.extend(store.get("/after").await?);
        contents.sort_by(|a, b| a.key.cmp(&b.key));
        contents
    };
    assert!(
        !old_segment.exists(),
        "the snapshot removed the old segment"
    );
    // Put the superseded segment back, damaged for good measure: it must be skipped.
    old_data[20] ^= 0x55;
    fs::write(&old_segment, &old_data)?;
    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default())?;
    assert_eq!(all(&store).await?, contents);
    assert!(
        !old_segment.exists(),
        "the leftover segment is removed on open"
    );
    Ok(())
}

/// Environment variable that turns the crash test's process into the writer that gets killed.
const CRASH_CHILD_DIR: &str = "RKUBE_STORE_CRASH_CHILD_DIR";

/// A writer process killed with SIGKILL in the middle of concurrent writes loses nothing it
/// acknowledged.
#[test]
fn killed_writer_process_keeps_acknowledged_writes() -> TestResult {
    use std::io::BufRead;
    use std::process::{Command, Stdio};

    if let Ok(dir) = std::env::var(CRASH_CHILD_DIR) {
        return crash_child(Path::new(&dir));
    }
    let dir = tempfile::tempdir()?;
    let mut child = Command::new(std::env::current_exe()?)
        .args([
            "--exact",
            "killed_writer_process_keeps_acknowledged_writes",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CRASH_CHILD_DIR, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no child stdout")?;
    let mut acknowledged = Vec::new();
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line?;
        if let Some(ack) = line.strip_prefix("ack ") {
            let (key, revision) = ack.split_once(' ').ok_or("bad ack line")?;
            acknowledged.push((key.to_owned(), revision.parse::<u64>()?));
            if acknowledged.len() == 2_000 {
                child.kill()?;
                break;
            }
        }
    }
    child.wait()?;
    assert_eq!(acknowledged.len(), 2_000, "the child stopped early");

    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    runtime.block_on(async {
        let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default())?;
        let highest = acknowledged
            .iter()
            .map(|(_, revision)| *revision)
            .max()
            .unwrap_or(0);
        assert!(store.current_revision() >= highest);
        for (key, revision) in &acknowledged {
            let kv = store
                .get(key)
                .await?
                .ok_or_else(|| format!("acknowledged {key} lost"))?;
            assert_eq!(kv.mod_revision, *revision);
        }
        let next = store.create("/after-crash", value("1")).await?;
        assert_eq!(next.mod_revision, store.current_revision());
        assert!(next.mod_revision > highest);
        Ok(())
    })
}

/// The crash test's writer: creates keys from 8 tasks forever, printing each acknowledgement.
fn crash_child(dir: &Path) -> TestResult {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        // Small snapshot thresholds so snapshots and segment switches happen during the run.
        let options = EmbeddedOptions {
            snapshot_min_wal_bytes: 64 << 10,
            snapshot_wal_ratio: 0,
            ..EmbeddedOptions::default()
        };
        let store = Arc::new(EmbeddedStore::open(dir, options)?);
        let mut tasks = Vec::new();
        for task in 0..8 {
            let store = Arc::clone(&store);
            tasks.push(tokio::spawn(async move {
                for i in 0..1_000_000u64 {
                    let key = format!("/crash/{task}/{i:07}");
                    let kv = store.create(&key, sized_value(300, i)).await?;
                    println!("ack {key} {}", kv.mod_revision);
                }
                Ok::<_, Error>(())
            }));
        }
        for task in tasks {
            task.await??;
        }
        Ok(())
    })
}
