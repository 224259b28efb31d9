//! Which NoExecute taints a pod tolerates, and for how long: the same matching rules as the
//! scheduler's taint/toleration filter, and upstream's rule that the shortest
//! `tolerationSeconds` among the tolerations used decides.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Taint, Toleration};

/// The taint effect this controller acts on.
pub const NO_EXECUTE: &str = "NoExecute";

/// What the node's NoExecute taints mean for one pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The node has no NoExecute taint, or the pod tolerates all of them for ever.
    Stay,
    /// The pod tolerates every taint, the shortest toleration for this long.
    EvictAfter(Duration),
    /// Some taint is not tolerated: the pod goes at once.
    EvictNow,
}

/// The node's taints with effect NoExecute, in their order.
pub fn no_execute_taints(taints: &[Taint]) -> Vec<Taint> {
    taints
        .iter()
        .filter(|t| t.effect == NO_EXECUTE)
        .cloned()
        .collect()
}

/// Whether `toleration` tolerates `taint`: an empty effect matches every effect, an empty key
/// (only valid with `Exists`) matches every key, `Exists` ignores the value and `Equal` (the
/// default) compares it.
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    let effect = toleration.effect.as_deref().unwrap_or("");
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = toleration.key.as_deref().unwrap_or("");
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or("") {
        "" | "Equal" => {
            toleration.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or("")
        }
        "Exists" => true,
        _ => false,
    }
}

/// The verdict for a pod with `tolerations` on a node with the NoExecute `taints`. For each
/// taint the first toleration that tolerates it is the one used, as upstream does; a used
/// toleration with `tolerationSeconds <= 0` means at once, none with seconds means for ever.
pub fn verdict(taints: &[Taint], tolerations: &[Toleration]) -> Verdict {
    let mut shortest: Option<i64> = None;
    for taint in taints.iter().filter(|t| t.effect == NO_EXECUTE) {
        let Some(used) = tolerations.iter().find(|t| tolerates(t, taint)) else {
            return Verdict::EvictNow;
        };
        if let Some(seconds) = used.toleration_seconds {
            shortest = Some(shortest.map_or(seconds, |s| s.min(seconds)));
        }
    }
    match shortest {
        None => Verdict::Stay,
        Some(seconds) => {
            Verdict::EvictAfter(Duration::from_secs(u64::try_from(seconds).unwrap_or(0)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taint(key: &str, value: &str, effect: &str) -> Taint {
        Taint {
            key: key.into(),
            value: (!value.is_empty()).then(|| value.into()),
            effect: effect.into(),
            time_added: None,
        }
    }

    fn toleration(key: &str, op: &str, value: &str, effect: &str, secs: Option<i64>) -> Toleration {
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
        Toleration {
            key: opt(key),
            operator: opt(op),
            value: opt(value),
            effect: opt(effect),
            toleration_seconds: secs,
        }
    }

    #[test]
    fn matching_follows_operator_key_value_and_effect() {
        let gpu = taint("dedicated", "gpu", NO_EXECUTE);
        assert!(tolerates(
            &toleration("dedicated", "Equal", "gpu", NO_EXECUTE, None),
            &gpu
        ));
        assert!(tolerates(
            &toleration("dedicated", "", "gpu", "", None),
            &gpu
        ));
        assert!(!tolerates(
            &toleration("dedicated", "Equal", "cpu", NO_EXECUTE, None),
            &gpu
        ));
        assert!(tolerates(
            &toleration("dedicated", "Exists", "", NO_EXECUTE, None),
            &gpu
        ));
        assert!(!tolerates(
            &toleration("dedicated", "Exists", "", "NoSchedule", None),
            &gpu
        ));
        assert!(!tolerates(
            &toleration("other", "Exists", "", "", None),
            &gpu
        ));
        assert!(tolerates(&toleration("", "Exists", "", "", None), &gpu));
        assert!(!tolerates(
            &toleration("dedicated", "Lt", "gpu", "", None),
            &gpu
        ));
        let no_value = taint("maintenance", "", NO_EXECUTE);
        assert!(tolerates(
            &toleration("maintenance", "Equal", "", NO_EXECUTE, None),
            &no_value
        ));
    }

    #[test]
    fn verdict_uses_the_shortest_seconds_of_the_first_matching_tolerations() {
        let taints = vec![
            taint("dedicated", "gpu", NO_EXECUTE),
            taint("maintenance", "", NO_EXECUTE),
        ];
        assert_eq!(verdict(&[], &[]), Verdict::Stay);
        assert_eq!(verdict(&taints, &[]), Verdict::EvictNow);
        let one_missing = [toleration("dedicated", "Exists", "", "", Some(10))];
        assert_eq!(verdict(&taints, &one_missing), Verdict::EvictNow);
        let both = [
            toleration("dedicated", "Exists", "", "", Some(10)),
            toleration("maintenance", "Exists", "", NO_EXECUTE, Some(3)),
        ];
        assert_eq!(
            verdict(&taints, &both),
            Verdict::EvictAfter(Duration::from_secs(3))
        );
        let forever = [toleration("", "Exists", "", "", None)];
        assert_eq!(verdict(&taints, &forever), Verdict::Stay);
        // Only the first matching toleration counts for a taint.
        let first_wins = [
            toleration("dedicated", "Exists", "", "", Some(5)),
            toleration("", "Exists", "", "", None),
        ];
        assert_eq!(
            verdict(&taints[..1], &first_wins),
            Verdict::EvictAfter(Duration::from_secs(5))
        );
        let negative = [toleration("", "Exists", "", "", Some(-1))];
        assert_eq!(
            verdict(&taints, &negative),
            Verdict::EvictAfter(Duration::ZERO)
        );
        // Taints of other effects are not this controller's business.
        let soft = [taint("dedicated", "gpu", "NoSchedule")];
        assert_eq!(verdict(&soft, &[]), Verdict::Stay);
        assert_eq!(
            no_execute_taints(&[taints[0].clone(), soft[0].clone()]).len(),
            1
        );
    }
}
