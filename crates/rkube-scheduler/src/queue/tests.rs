use super::*;
use crate::config::SchedulerConfiguration;
use crate::framework::{ActionType, EventResource};
use crate::node_info::tests::PodBuilder;
use crate::plugins::priority_sort::PrioritySortPlugin;
use crate::profile::Profiles;
use crate::registry::Registry;

fn queue() -> (SchedulingQueue, Arc<FakeClock>) {
    let profiles = Profiles::build(&SchedulerConfiguration::default(), &Registry::in_tree())
        .expect("default profiles");
    let clock = Arc::new(FakeClock::default());
    let queue = SchedulingQueue::new(
        clock.clone(),
        Arc::new(PrioritySortPlugin),
        profiles.plugin_events(),
    );
    (queue, clock)
}

fn popped_name(queue: &mut SchedulingQueue) -> Option<String> {
    queue
        .pop()
        .and_then(|info| info.pod_info.pod.metadata.name.clone())
}

fn fail(queue: &mut SchedulingQueue, plugins: &[&'static str]) -> QueueName {
    let mut info = queue.pop().expect("a pod to pop");
    info.unschedulable_plugins = plugins.to_vec();
    queue
        .add_unschedulable_if_not_present(info)
        .expect("not queued")
}

#[test]
fn pops_by_priority_then_age() {
    let (mut queue, clock) = queue();
    queue.add(PodBuilder::new("low").priority(1).build());
    clock.step(Duration::from_millis(1));
    queue.add(PodBuilder::new("high-late").priority(10).build());
    queue.add(PodBuilder::new("mid").priority(5).build());
    clock.step(Duration::from_millis(1));
    queue.add(PodBuilder::new("high-later").priority(10).build());
    let order: Vec<_> = std::iter::from_fn(|| popped_name(&mut queue)).collect();
    assert_eq!(order, ["high-late", "high-later", "mid", "low"]);
    assert_eq!(queue.scheduling_cycle(), 4);
}

#[test]
fn backoff_doubles_up_to_the_maximum() {
    let (queue, _) = queue();
    let durations: Vec<u64> = (1..=6)
        .map(|a| queue.backoff_duration(a).as_secs())
        .collect();
    assert_eq!(durations, [1, 2, 4, 8, 10, 10]);
    let queue = queue.with_backoff(Duration::from_secs(2), Duration::from_secs(5));
    assert_eq!(queue.backoff_duration(1), Duration::from_secs(2));
    assert_eq!(queue.backoff_duration(3), Duration::from_secs(5));
}

#[test]
fn unschedulable_pod_moves_on_a_relevant_event_only() {
    let (mut queue, clock) = queue();
    queue.add(PodBuilder::new("big").build());
    assert_eq!(
        fail(&mut queue, &["NodeResourcesFit"]),
        QueueName::Unschedulable
    );
    assert_eq!(queue.lens(), (0, 0, 1));
    // a taint change does not help a pod that was too big
    let taint_change = ClusterEvent::new(
        EventResource::Node,
        ActionType::UPDATE_NODE_TAINT.or(ActionType::UPDATE_NODE_CONDITION),
        "x",
    );
    assert_eq!(
        queue.move_all_to_active_or_backoff(ClusterEvent::new(
            EventResource::Node,
            ActionType::UPDATE_NODE_CONDITION,
            "NodeCondition"
        )),
        0
    );
    // a node was added: still backing off (1 s), so backoffQ
    assert_eq!(
        queue.move_all_to_active_or_backoff(ClusterEvent::NODE_ADD),
        1
    );
    assert_eq!(queue.queue_of("default/big"), Some(QueueName::Backoff));
    assert_eq!(queue.flush_backoff_completed(), 0);
    assert!(queue.next_backoff_expiry().is_some());
    clock.step(Duration::from_secs(1));
    assert_eq!(queue.flush_backoff_completed(), 1);
    assert_eq!(popped_name(&mut queue).as_deref(), Some("big"));
    // second failure: 2 s backoff; an event after the backoff goes straight to activeQ
    let mut info_plugins = vec!["TaintToleration"];
    info_plugins.dedup();
    let mut info = QueuedPodInfo {
        ..queue_info_for_test(&mut queue, "big2")
    };
    info.unschedulable_plugins = info_plugins;
    assert_eq!(
        queue.add_unschedulable_if_not_present(info),
        Ok(QueueName::Unschedulable)
    );
    clock.step(Duration::from_secs(3));
    assert_eq!(
        queue.move_all_to_active_or_backoff(ClusterEvent::ASSIGNED_POD_DELETE),
        0
    );
    assert_eq!(queue.move_all_to_active_or_backoff(taint_change), 1);
    assert_eq!(queue.queue_of("default/big2"), Some(QueueName::Active));
}

fn queue_info_for_test(queue: &mut SchedulingQueue, name: &str) -> QueuedPodInfo {
    queue.add(PodBuilder::new(name).build());
    queue.pop().expect("just added")
}

#[test]
fn event_while_in_flight_sends_the_pod_to_backoff() {
    let (mut queue, _) = queue();
    queue.add(PodBuilder::new("p").build());
    let mut info = queue.pop().expect("popped");
    queue.move_all_to_active_or_backoff(ClusterEvent::NODE_ADD);
    info.unschedulable_plugins = vec!["NodeResourcesFit"];
    assert_eq!(
        queue.add_unschedulable_if_not_present(info),
        Ok(QueueName::Backoff)
    );
    // an irrelevant in-flight event does not
    queue.add(PodBuilder::new("q").build());
    let mut info = queue.pop().expect("popped");
    queue.move_all_to_active_or_backoff(ClusterEvent::ASSIGNED_POD_DELETE);
    info.unschedulable_plugins = vec!["NodeAffinity"];
    assert_eq!(
        queue.add_unschedulable_if_not_present(info),
        Ok(QueueName::Unschedulable)
    );
}

#[test]
fn errors_back_off_instead_of_waiting_for_events() {
    let (mut queue, _) = queue();
    queue.add(PodBuilder::new("p").build());
    let mut info = queue.pop().expect("popped");
    info.failed_with_error = true;
    assert_eq!(
        queue.add_unschedulable_if_not_present(info),
        Ok(QueueName::Backoff)
    );
}

#[test]
fn leftover_unschedulable_pods_are_retried_after_five_minutes() {
    let (mut queue, clock) = queue();
    queue.add(PodBuilder::new("p").build());
    fail(&mut queue, &["NodeAffinity"]);
    clock.step(Duration::from_secs(299));
    assert_eq!(queue.flush_unschedulable_left_over(), 0);
    clock.step(Duration::from_secs(2));
    assert_eq!(queue.flush_unschedulable_left_over(), 1);
    assert_eq!(queue.queue_of("default/p"), Some(QueueName::Active));
}

#[test]
fn update_delete_and_duplicates() {
    let (mut queue, _) = queue();
    queue.add(PodBuilder::new("a").priority(1).build());
    queue.add(PodBuilder::new("b").priority(2).build());
    // raising a's priority reorders activeQ
    queue.update(PodBuilder::new("a").priority(3).build());
    assert_eq!(popped_name(&mut queue).as_deref(), Some("a"));
    queue.delete("default/b");
    assert!(queue.pop().is_none());
    // an update of an unschedulable pod moves it
    queue.add(PodBuilder::new("c").build());
    fail(&mut queue, &["NodeAffinity"]);
    queue.update(PodBuilder::new("c").priority(1).build());
    assert_eq!(queue.queue_of("default/c"), Some(QueueName::Backoff));
    // already queued
    queue.add(PodBuilder::new("d").build());
    let info = queue.pop().expect("popped");
    queue.add(PodBuilder::new("d").build());
    assert!(matches!(
        queue.add_unschedulable_if_not_present(info),
        Err(QueueError::AlreadyQueued(_, QueueName::Active))
    ));
    assert_eq!(queue.pending_pods().len(), 2);
}

#[test]
fn wildcard_events_move_everything() {
    let (mut queue, _) = queue();
    queue.add(PodBuilder::new("p").build());
    fail(&mut queue, &["NodeAffinity"]);
    assert_eq!(
        queue.move_all_to_active_or_backoff(ClusterEvent::FORCE_ACTIVATE),
        1
    );
}

#[test]
fn scheduling_gates_hold_pods_until_removed() {
    let profiles = Profiles::build(&SchedulerConfiguration::default(), &Registry::in_tree())
        .expect("default profiles");
    let mut queue = SchedulingQueue::new(
        Arc::new(FakeClock::default()),
        Arc::new(PrioritySortPlugin),
        profiles.plugin_events(),
    )
    .with_pre_enqueue(profiles.pre_enqueue_plugins());
    let gated = PodBuilder::new("g")
        .with_spec(|s| {
            s.scheduling_gates = Some(vec![k8s_openapi::api::core::v1::PodSchedulingGate {
                name: "example.com/wait".into(),
            }])
        })
        .build();
    assert_eq!(queue.add(gated.clone()), QueueName::Unschedulable);
    assert!(queue.pop().is_none());
    // events and timeouts do not release it
    assert_eq!(
        queue.move_all_to_active_or_backoff(ClusterEvent::FORCE_ACTIVATE),
        0
    );
    queue.update(gated);
    assert_eq!(queue.queue_of("default/g"), Some(QueueName::Unschedulable));
    // removing the gate lets it in at once (it never tried, so no backoff)
    queue.update(PodBuilder::new("g").build());
    assert_eq!(queue.queue_of("default/g"), Some(QueueName::Active));
}
