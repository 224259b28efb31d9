//! The store conformance suite: every test is written once against `dyn Store` and run for each
//! backend by the `conformance!` macro at the bottom.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use rkube_store::{
    Error, Event, EventKind, KeyValue, ListOptions, Revision, Store, ValueFn, WatchStream,
};

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// Channel capacity the backends are built with in this suite.
const WATCH_CAPACITY: usize = 64;

fn value(text: &str) -> ValueFn {
    let bytes = text.as_bytes().to_vec();
    Box::new(move |_| Ok(bytes))
}

fn text(kv: &KeyValue) -> String {
    String::from_utf8_lossy(&kv.value).into_owned()
}

fn keys(items: &[KeyValue]) -> Vec<&str> {
    items.iter().map(|kv| kv.key.as_str()).collect()
}

fn at(revision: Revision) -> ListOptions {
    ListOptions {
        revision: Some(revision),
        ..ListOptions::default()
    }
}

/// Receives events until `count` have arrived (or fails after a timeout).
async fn next_events(stream: &mut WatchStream, count: usize) -> Result<Vec<Event>, String> {
    let mut events = Vec::new();
    while events.len() < count {
        match tokio::time::timeout(Duration::from_secs(5), stream.recv()).await {
            Ok(Some(batch)) => events.extend(batch),
            Ok(None) => {
                return Err(format!(
                    "stream ended after {} of {count} events",
                    events.len()
                ));
            }
            Err(_) => {
                return Err(format!(
                    "timed out after {} of {count} events",
                    events.len()
                ));
            }
        }
    }
    if events.len() != count {
        return Err(format!("expected {count} events, got {}", events.len()));
    }
    Ok(events)
}

/// Asserts that nothing arrives on `stream` for a short while.
async fn assert_quiet(stream: &mut WatchStream) {
    let received = tokio::time::timeout(Duration::from_millis(100), stream.recv()).await;
    assert!(received.is_err(), "unexpected watch batch: {received:?}");
}

fn summary(events: &[Event]) -> Vec<(EventKind, String, Revision)> {
    events
        .iter()
        .map(|event| (event.kind, event.kv.key.clone(), event.kv.mod_revision))
        .collect()
}

async fn create_get(store: Arc<dyn Store>) -> TestResult {
    assert_eq!(store.current_revision(), 0);
    assert!(store.get("/a").await?.is_none());
    let created = store.create("/a", value("one")).await?;
    assert_eq!(created.key, "/a");
    assert_eq!(text(&created), "one");
    assert_eq!(created.create_revision, 1);
    assert_eq!(created.mod_revision, 1);
    assert_eq!(store.get("/a").await?, Some(created));
    assert_eq!(store.current_revision(), 1);
    match store.create("/a", value("two")).await {
        Err(Error::AlreadyExists(key)) => assert_eq!(key, "/a"),
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    assert_eq!(
        store.current_revision(),
        1,
        "a failed create consumes no revision"
    );
    Ok(())
}

async fn list_paging(store: Arc<dyn Store>) -> TestResult {
    for key in ["/a/3", "/a/1", "/b/1", "/a/5", "/a/2", "/a/4", "/a"] {
        store.create(key, value(key)).await?;
    }
    let all = store.list("/a/", ListOptions::default()).await?;
    assert_eq!(keys(&all.items), ["/a/1", "/a/2", "/a/3", "/a/4", "/a/5"]);
    assert!(!all.more);
    assert_eq!(all.revision, store.current_revision());

    let mut pages = Vec::new();
    let mut start_after = None;
    loop {
        let options = ListOptions {
            revision: Some(all.revision),
            start_after: start_after.clone(),
            limit: 2,
        };
        let page = store.list("/a/", options).await?;
        assert_eq!(page.revision, all.revision);
        start_after = page.items.last().map(|kv| kv.key.clone());
        pages.push((keys(&page.items).join(","), page.more));
        if !page.more {
            break;
        }
    }
    assert_eq!(
        pages,
        [
            ("/a/1,/a/2".to_owned(), true),
            ("/a/3,/a/4".to_owned(), true),
            ("/a/5".to_owned(), false)
        ]
    );

    let exact = store
        .list(
            "/a/",
            ListOptions {
                limit: 5,
                ..ListOptions::default()
            },
        )
        .await?;
    assert_eq!(exact.items.len(), 5);
    assert!(!exact.more, "no more keys after exactly `limit`");
    let everything = store.list("", ListOptions::default()).await?;
    assert_eq!(everything.items.len(), 7);
    let before_prefix = ListOptions {
        start_after: Some("/".into()),
        ..ListOptions::default()
    };
    assert_eq!(store.list("/a/", before_prefix).await?.items.len(), 5);
    let past_prefix = ListOptions {
        start_after: Some("/a/9".into()),
        ..ListOptions::default()
    };
    assert!(store.list("/a/", past_prefix).await?.items.is_empty());
    Ok(())
}

async fn list_at_older_revision(store: Arc<dyn Store>) -> TestResult {
    let r1 = store.create("/k", value("1")).await?.mod_revision;
    let r2 = store.update("/k", r1, value("2")).await?.mod_revision;
    let r3 = store.delete("/k", None).await?.mod_revision;
    let r4 = store.create("/j", value("j")).await?.mod_revision;
    let texts = |items: Vec<KeyValue>| {
        items
            .iter()
            .map(|kv| format!("{}={}", kv.key, text(kv)))
            .collect::<Vec<_>>()
    };
    assert_eq!(texts(store.list("/", at(r1)).await?.items), ["/k=1"]);
    assert_eq!(texts(store.list("/", at(r2)).await?.items), ["/k=2"]);
    assert!(store.list("/", at(r3)).await?.items.is_empty());
    assert_eq!(texts(store.list("/", at(r4)).await?.items), ["/j=j"]);
    let old = store.list("/", at(r2)).await?;
    assert_eq!(old.revision, r2);
    assert_eq!(old.items[0].mod_revision, r2);
    assert_eq!(old.items[0].create_revision, r1);

    match store.list("/", at(r4 + 1)).await {
        Err(Error::FutureRevision { requested, current }) => {
            assert_eq!((requested, current), (r4 + 1, r4))
        }
        other => panic!("expected FutureRevision, got {other:?}"),
    }

    store.compact(r2).await?;
    assert_eq!(store.compacted_revision(), r2);
    match store.list("/", at(r1)).await {
        Err(Error::Compacted {
            requested,
            compacted,
        }) => assert_eq!((requested, compacted), (r1, r2)),
        other => panic!("expected Compacted, got {other:?}"),
    }
    assert_eq!(
        texts(store.list("/", at(r2)).await?.items),
        ["/k=2"],
        "state at the compacted revision is kept"
    );
    assert_eq!(texts(store.list("/", at(r4)).await?.items), ["/j=j"]);
    store.compact(r4).await?;
    assert_eq!(
        texts(store.list("/", ListOptions::default()).await?.items),
        ["/j=j"]
    );
    assert!(matches!(
        store.compact(r4 + 10).await,
        Err(Error::FutureRevision { .. })
    ));
    Ok(())
}

async fn update_compare_and_swap(store: Arc<dyn Store>) -> TestResult {
    match store.update("/missing", 1, value("x")).await {
        Err(Error::NotFound(key)) => assert_eq!(key, "/missing"),
        other => panic!("expected NotFound, got {other:?}"),
    }
    let created = store.create("/k", value("1")).await?;
    let updated = store.update("/k", created.mod_revision, value("2")).await?;
    assert_eq!(updated.create_revision, created.create_revision);
    assert_eq!(updated.mod_revision, created.mod_revision + 1);
    match store.update("/k", created.mod_revision, value("3")).await {
        Err(Error::Conflict {
            key,
            expected,
            actual,
        }) => {
            assert_eq!(
                (key.as_str(), expected, actual),
                ("/k", created.mod_revision, updated.mod_revision)
            );
        }
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert_eq!(store.get("/k").await?.map(|kv| text(&kv)), Some("2".into()));
    assert_eq!(store.current_revision(), updated.mod_revision);
    Ok(())
}

async fn delete_with_and_without_expected(store: Arc<dyn Store>) -> TestResult {
    assert!(matches!(
        store.delete("/k", None).await,
        Err(Error::NotFound(_))
    ));
    let created = store.create("/k", value("v")).await?;
    assert!(matches!(
        store.delete("/k", Some(created.mod_revision + 5)).await,
        Err(Error::Conflict { .. })
    ));
    let deleted = store.delete("/k", Some(created.mod_revision)).await?;
    assert_eq!(text(&deleted), "v", "delete returns the last value");
    assert_eq!(deleted.create_revision, created.create_revision);
    assert_eq!(deleted.mod_revision, created.mod_revision + 1);
    assert!(store.get("/k").await?.is_none());
    assert!(matches!(
        store.delete("/k", None).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        store.update("/k", deleted.mod_revision, value("x")).await,
        Err(Error::NotFound(_))
    ));

    let again = store.create("/k", value("w")).await?;
    assert_eq!(
        again.create_revision,
        deleted.mod_revision + 1,
        "a new incarnation has a new create revision"
    );
    let deleted_again = store.delete("/k", None).await?;
    assert_eq!(text(&deleted_again), "w");
    assert_eq!(store.current_revision(), deleted_again.mod_revision);
    Ok(())
}

async fn revisions_strictly_increase(store: Arc<dyn Store>) -> TestResult {
    let mut revisions = vec![store.current_revision()];
    let a = store.create("/a", value("1")).await?;
    revisions.push(a.mod_revision);
    revisions.push(store.create("/b", value("1")).await?.mod_revision);
    revisions.push(
        store
            .update("/a", a.mod_revision, value("2"))
            .await?
            .mod_revision,
    );
    revisions.push(store.delete("/b", None).await?.mod_revision);
    revisions.push(store.create("/b", value("2")).await?.mod_revision);
    revisions.push(store.delete("/a", None).await?.mod_revision);
    for pair in revisions.windows(2) {
        assert_eq!(
            pair[1],
            pair[0] + 1,
            "every write takes the next revision: {revisions:?}"
        );
    }
    assert_eq!(store.current_revision(), *revisions.last().unwrap_or(&0));
    Ok(())
}

async fn watch_replays_then_follows(store: Arc<dyn Store>) -> TestResult {
    let a = store.create("/a", value("1")).await?;
    store.create("/b", value("1")).await?;
    store.update("/a", a.mod_revision, value("2")).await?;
    store.delete("/b", None).await?;

    let mut from_start = store.watch("/", 0)?;
    let mut from_middle = store.watch("/", 2)?;
    let replayed = next_events(&mut from_start, 4).await?;
    assert_eq!(
        summary(&replayed),
        [
            (EventKind::Create, "/a".into(), 1),
            (EventKind::Create, "/b".into(), 2),
            (EventKind::Update, "/a".into(), 3),
            (EventKind::Delete, "/b".into(), 4),
        ]
    );
    assert_eq!(
        text(&replayed[3].kv),
        "1",
        "a delete event carries the last value"
    );
    assert_eq!(replayed[3].kv.create_revision, 2);
    assert_eq!(
        summary(&next_events(&mut from_middle, 2).await?),
        summary(&replayed[2..])
    );

    store.create("/c", value("1")).await?;
    store.delete("/a", Some(3)).await?;
    let live = [
        (EventKind::Create, "/c".to_owned(), 5),
        (EventKind::Delete, "/a".to_owned(), 6),
    ];
    assert_eq!(summary(&next_events(&mut from_start, 2).await?), live);
    assert_eq!(summary(&next_events(&mut from_middle, 2).await?), live);
    assert_quiet(&mut from_start).await;

    let mut current = store.watch("/", store.current_revision())?;
    assert_quiet(&mut current).await;
    store.create("/d", value("1")).await?;
    assert_eq!(
        summary(&next_events(&mut current, 1).await?),
        [(EventKind::Create, "/d".into(), 7)]
    );
    Ok(())
}

async fn watch_filters_by_prefix(store: Arc<dyn Store>) -> TestResult {
    store.create("/pods/a", value("1")).await?;
    store.create("/nodes/a", value("1")).await?;
    let mut pods = store.watch("/pods/", 0)?;
    let mut nodes = store.watch("/nodes/", 0)?;
    store.create("/pods/b", value("1")).await?;
    store.create("/podsx", value("1")).await?;
    store.create("/nodes/b", value("1")).await?;
    let pod_keys: Vec<String> = next_events(&mut pods, 2)
        .await?
        .into_iter()
        .map(|event| event.kv.key)
        .collect();
    assert_eq!(pod_keys, ["/pods/a", "/pods/b"]);
    let node_keys: Vec<String> = next_events(&mut nodes, 2)
        .await?
        .into_iter()
        .map(|event| event.kv.key)
        .collect();
    assert_eq!(node_keys, ["/nodes/a", "/nodes/b"]);
    assert_quiet(&mut pods).await;
    Ok(())
}

async fn watch_compacted_revision(store: Arc<dyn Store>) -> TestResult {
    for i in 0..5 {
        store.create(&format!("/k{i}"), value("v")).await?;
    }
    store.compact(3).await?;
    match store.watch("/", 2) {
        Err(Error::Compacted {
            requested,
            compacted,
        }) => assert_eq!((requested, compacted), (2, 3)),
        other => panic!("expected Compacted, got {:?}", other.map(|_| ())),
    }
    let mut stream = store.watch("/", 3)?;
    let revisions: Vec<Revision> = next_events(&mut stream, 2)
        .await?
        .iter()
        .map(|event| event.kv.mod_revision)
        .collect();
    assert_eq!(revisions, [4, 5]);
    Ok(())
}

async fn slow_watcher_is_dropped(store: Arc<dyn Store>) -> TestResult {
    let mut slow = store.watch("/", 0)?;
    let mut fast = store.watch("/", 0)?;
    let writes = WATCH_CAPACITY * 3;
    let writer = async {
        for i in 0..writes {
            let kv = store.create(&format!("/k{i:04}"), value("v")).await?;
            // A watcher that keeps up sees every write.
            let seen = next_events(&mut fast, 1).await?;
            assert_eq!(seen[0].kv.mod_revision, kv.mod_revision);
        }
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    };
    tokio::time::timeout(Duration::from_secs(30), writer).await??;
    let mut received = Vec::new();
    while let Some(batch) = tokio::time::timeout(Duration::from_secs(5), slow.recv()).await? {
        received.extend(batch);
    }
    assert!(
        received.len() < writes,
        "the slow watcher's stream ended early"
    );
    for (i, event) in received.iter().enumerate() {
        assert_eq!(
            event.kv.mod_revision,
            i as u64 + 1,
            "what it got before the end is in order"
        );
    }
    Ok(())
}

async fn value_fn_receives_the_revision(store: Arc<dyn Store>) -> TestResult {
    let embed: ValueFn = Box::new(|revision| Ok(format!("rv={revision}").into_bytes()));
    let created = store.create("/a", embed).await?;
    assert_eq!(text(&created), format!("rv={}", created.mod_revision));
    let embed: ValueFn = Box::new(|revision| Ok(format!("rv={revision}").into_bytes()));
    let updated = store.update("/a", created.mod_revision, embed).await?;
    assert_eq!(text(&updated), format!("rv={}", updated.mod_revision));
    assert_eq!(
        store.get("/a").await?.map(|kv| text(&kv)),
        Some(format!("rv={}", updated.mod_revision))
    );
    Ok(())
}

async fn value_fn_error_writes_nothing(store: Arc<dyn Store>) -> TestResult {
    let created = store.create("/a", value("1")).await?;
    let mut stream = store.watch("/", created.mod_revision)?;
    let refuse = || -> ValueFn { Box::new(|_| Err("invalid object".to_owned())) };
    match store.create("/b", refuse()).await {
        Err(Error::Value(message)) => assert_eq!(message, "invalid object"),
        other => panic!("expected Value error, got {other:?}"),
    }
    assert!(matches!(
        store.update("/a", created.mod_revision, refuse()).await,
        Err(Error::Value(_))
    ));
    assert_eq!(
        store.current_revision(),
        created.mod_revision,
        "no revision consumed"
    );
    assert!(store.get("/b").await?.is_none());
    assert_eq!(store.get("/a").await?, Some(created.clone()));
    assert_quiet(&mut stream).await;
    let next = store.create("/c", value("1")).await?;
    assert_eq!(next.mod_revision, created.mod_revision + 1);
    Ok(())
}

async fn concurrent_writers_get_distinct_revisions(store: Arc<dyn Store>) -> TestResult {
    const TASKS: usize = 16;
    const PER_TASK: usize = 200;
    let mut watch = store.watch("/", 0)?;
    let watcher = tokio::spawn(async move {
        let mut revisions = Vec::new();
        while revisions.len() < TASKS * PER_TASK {
            match watch.recv().await {
                Some(batch) => revisions.extend(batch.iter().map(|event| event.kv.mod_revision)),
                None => break,
            }
        }
        revisions
    });
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let mut revisions = Vec::with_capacity(PER_TASK);
            for i in 0..PER_TASK {
                let key = format!("/c/{task:02}/{i:04}");
                let kv = store
                    .create(
                        &key,
                        Box::new(move |revision| Ok(revision.to_string().into_bytes())),
                    )
                    .await?;
                assert_eq!(text(&kv), kv.mod_revision.to_string());
                revisions.push(kv.mod_revision);
            }
            Ok::<_, Error>(revisions)
        }));
    }
    let mut all = HashSet::new();
    for task in tasks {
        for revision in task.await?? {
            assert!(all.insert(revision), "revision {revision} given twice");
        }
    }
    let total = (TASKS * PER_TASK) as u64;
    assert_eq!(all.len() as u64, total);
    assert_eq!(all.iter().max().copied(), Some(total));
    assert_eq!(store.current_revision(), total);
    let listed = store.list("/c/", ListOptions::default()).await?;
    assert_eq!(listed.items.len() as u64, total);
    for kv in &listed.items {
        assert_eq!(text(kv), kv.mod_revision.to_string());
    }
    // The watcher may have been dropped for falling behind; what it saw must be in order.
    let seen = watcher.await?;
    assert!(
        seen.windows(2).all(|pair| pair[1] == pair[0] + 1),
        "watch events in revision order"
    );
    Ok(())
}

fn memory_store() -> Arc<dyn Store> {
    let options = rkube_store::MemoryOptions {
        history_revisions: 0,
        watch_capacity: WATCH_CAPACITY,
    };
    Arc::new(rkube_store::MemoryStore::with_options(options))
}

fn embedded_store()
-> Result<(tempfile::TempDir, Arc<dyn Store>), Box<dyn std::error::Error + Send + Sync>> {
    let dir = tempfile::tempdir()?;
    let options = rkube_store::EmbeddedOptions {
        history_revisions: 0,
        watch_capacity: WATCH_CAPACITY,
        ..rkube_store::EmbeddedOptions::default()
    };
    let store = rkube_store::EmbeddedStore::open(dir.path(), options)?;
    Ok((dir, Arc::new(store)))
}

/// Instantiates every listed test once per backend.
macro_rules! conformance {
    ($($test:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() -> super::TestResult {
                    super::$test(super::memory_store()).await
                }
            )*
        }
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() -> super::TestResult {
                    let (_dir, store) = super::embedded_store()?;
                    super::$test(store).await
                }
            )*
        }
    };
}

conformance!(
    create_get,
    list_paging,
    list_at_older_revision,
    update_compare_and_swap,
    delete_with_and_without_expected,
    revisions_strictly_increase,
    watch_replays_then_follows,
    watch_filters_by_prefix,
    watch_compacted_revision,
    slow_watcher_is_dropped,
    value_fn_receives_the_revision,
    value_fn_error_writes_nothing,
    concurrent_writers_get_distinct_revisions,
);
