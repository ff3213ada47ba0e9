//! Errors from EC2, IAM and the instance metadata service, matched on their error codes.

use std::fmt;

/// One failed cloud operation: what hakit was doing, EC2's error code if any, the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudError {
    /// What hakit was doing, as a gerund naming the resource: "associating eipalloc-... with eni-...".
    pub op: String,
    /// EC2's error code, e.g. `InvalidNetworkInterfaceID.NotFound`.
    pub code: Option<String>,
    pub message: String,
}

impl CloudError {
    pub fn new(op: impl Into<String>, code: Option<String>, message: impl Into<String>) -> Self {
        CloudError {
            op: op.into(),
            code,
            message: message.into(),
        }
    }

    /// The resource is gone (EC2's `*.NotFound`, IAM's `NoSuchEntity`); during undo that
    /// means already undone.
    pub fn is_not_found(&self) -> bool {
        self.code
            .as_deref()
            .is_some_and(|c| c.ends_with(".NotFound") || c == "NoSuchEntity")
    }

    pub fn is_code(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }

    /// Throttling or a server-side failure: what the SDK retries (modelled by `FakeCloud`).
    pub fn is_transient(&self) -> bool {
        matches!(
            self.code.as_deref(),
            Some(
                "RequestLimitExceeded"
                    | "Throttling"
                    | "ThrottlingException"
                    | "InternalError"
                    | "InternalFailure"
                    | "ServiceFailure"
                    | "ServiceUnavailable"
                    | "Unavailable"
            )
        )
    }

    /// What to do about it, when hakit knows.
    pub fn hint(&self) -> Option<&'static str> {
        match self.code.as_deref()? {
            "UnauthorizedOperation" | "AuthFailure" => Some("the instance role lacks this permission: `hakit iam policy` prints the policy hakit needs"),
            "InvalidAllocationID.NotFound" => Some("check aws.eip_allocation_id in the cluster file (and the region)"),
            "RequestLimitExceeded" => Some("EC2 throttled the account; hakit retried with backoff and gave up at its deadline"),
            "InvalidNetworkInterface.InUse" => Some("the ENI is still attached; detach it first (rollback does)"),
            "AccessDenied" => Some("these credentials may not call the iam: action named above: run `hakit iam apply` / `hakit iam rollback` with credentials allowed to manage IAM roles and instance profiles (an administrator's, not a node's instance role)"),
            "DeleteConflict" => Some("the IAM entity is still in use (a policy someone attached to the role, or the profile still on an instance): detach it, then run `hakit iam rollback` again"),
            _ => None,
        }
    }
}

impl fmt::Display for CloudError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.op)?;
        if let Some(code) = &self.code {
            write!(f, "{code}: ")?;
        }
        write!(f, "{}", self.message)?;
        if let Some(hint) = self.hint() {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for CloudError {}
