//! The one result type of every plugin call (upstream's `framework.Status`).

/// What a plugin call decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusCode {
    /// The plugin is satisfied.
    Success,
    /// Something went wrong inside the plugin; the pod is retried after backoff.
    Error,
    /// The pod does not fit, but preemption might make room.
    Unschedulable,
    /// The pod does not fit and preemption cannot help on this node.
    UnschedulableAndUnresolvable,
    /// (Permit) the pod must wait.
    Wait,
    /// The plugin does not apply to this pod; its later calls in this cycle are skipped.
    Skip,
    /// The pod waits for something outside the scheduler (not a fit problem).
    Pending,
}

/// A plugin's verdict, with the reasons shown to users and the plugin that gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    code: StatusCode,
    reasons: Vec<String>,
    plugin: Option<&'static str>,
}

impl Default for Status {
    fn default() -> Self {
        Status::success()
    }
}

impl Status {
    /// A status with a code and reasons.
    pub fn new(code: StatusCode, reasons: impl IntoIterator<Item = impl Into<String>>) -> Status {
        Status {
            code,
            reasons: reasons.into_iter().map(Into::into).collect(),
            plugin: None,
        }
    }

    /// Success.
    pub fn success() -> Status {
        Status {
            code: StatusCode::Success,
            reasons: Vec::new(),
            plugin: None,
        }
    }

    /// Unschedulable with one reason.
    pub fn unschedulable(reason: impl Into<String>) -> Status {
        Status::new(StatusCode::Unschedulable, [reason.into()])
    }

    /// Unschedulable and unresolvable with one reason.
    pub fn unresolvable(reason: impl Into<String>) -> Status {
        Status::new(StatusCode::UnschedulableAndUnresolvable, [reason.into()])
    }

    /// An internal error.
    pub fn error(reason: impl Into<String>) -> Status {
        Status::new(StatusCode::Error, [reason.into()])
    }

    /// Skip.
    pub fn skip() -> Status {
        Status::new(StatusCode::Skip, Vec::<String>::new())
    }

    /// Records which plugin produced the status.
    pub fn with_plugin(mut self, plugin: &'static str) -> Status {
        self.plugin = Some(plugin);
        self
    }

    /// The code.
    pub fn code(&self) -> StatusCode {
        self.code
    }

    /// The reasons.
    pub fn reasons(&self) -> &[String] {
        &self.reasons
    }

    /// The plugin that produced it, if recorded.
    pub fn plugin(&self) -> Option<&'static str> {
        self.plugin
    }

    /// The reasons joined with `, ` (upstream's `Message`).
    pub fn message(&self) -> String {
        self.reasons.join(", ")
    }

    /// Whether the code is Success.
    pub fn is_success(&self) -> bool {
        self.code == StatusCode::Success
    }

    /// Whether the code is Skip.
    pub fn is_skip(&self) -> bool {
        self.code == StatusCode::Skip
    }

    /// Whether the pod was rejected (Unschedulable, UnschedulableAndUnresolvable or Pending).
    pub fn is_rejected(&self) -> bool {
        matches!(
            self.code,
            StatusCode::Unschedulable
                | StatusCode::UnschedulableAndUnresolvable
                | StatusCode::Pending
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_joins_reasons() {
        let status = Status::new(
            StatusCode::Unschedulable,
            ["Insufficient cpu", "Too many pods"],
        );
        assert_eq!(status.message(), "Insufficient cpu, Too many pods");
        assert!(status.is_rejected());
        assert!(Status::success().is_success());
        assert_eq!(Status::skip().with_plugin("X").plugin(), Some("X"));
    }
}
