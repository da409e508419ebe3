//! Binder status codes, AIDL's service-specific `Status`, and the runtime's error type.

use std::borrow::Cow;
use std::fmt;

use afbus_transport as transport;

use crate::parcel::ParcelError;

/// A binder status code, with Android's values. An open newtype: an unknown code from a peer
/// stays visible as a number.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatusCode(pub i32);

impl StatusCode {
    /// Success.
    pub const OK: StatusCode = StatusCode(0);
    /// An error with no better code.
    pub const UNKNOWN_ERROR: StatusCode = StatusCode(i32::MIN);
    /// Out of memory.
    pub const NO_MEMORY: StatusCode = StatusCode(-libc::ENOMEM);
    /// The operation is not allowed in this state.
    pub const INVALID_OPERATION: StatusCode = StatusCode(-libc::ENOSYS);
    /// A bad argument or malformed data.
    pub const BAD_VALUE: StatusCode = StatusCode(-libc::EINVAL);
    /// Data of the wrong type.
    pub const BAD_TYPE: StatusCode = StatusCode(i32::MIN + 1);
    /// No such name.
    pub const NAME_NOT_FOUND: StatusCode = StatusCode(-libc::ENOENT);
    /// Policy refused the caller.
    pub const PERMISSION_DENIED: StatusCode = StatusCode(-libc::EPERM);
    /// Not initialised.
    pub const NO_INIT: StatusCode = StatusCode(-libc::ENODEV);
    /// Already exists.
    pub const ALREADY_EXISTS: StatusCode = StatusCode(-libc::EEXIST);
    /// The remote object's process is gone.
    pub const DEAD_OBJECT: StatusCode = StatusCode(-libc::EPIPE);
    /// The transaction could not be delivered or answered.
    pub const FAILED_TRANSACTION: StatusCode = StatusCode(i32::MIN + 2);
    /// An index out of range.
    pub const BAD_INDEX: StatusCode = StatusCode(-libc::EOVERFLOW);
    /// The parcel ended early.
    pub const NOT_ENOUGH_DATA: StatusCode = StatusCode(-libc::ENODATA);
    /// A one-way buffer is full.
    pub const WOULD_BLOCK: StatusCode = StatusCode(-libc::EWOULDBLOCK);
    /// A deadline passed.
    pub const TIMED_OUT: StatusCode = StatusCode(-libc::ETIMEDOUT);
    /// The object does not know this transaction code.
    pub const UNKNOWN_TRANSACTION: StatusCode = StatusCode(-libc::EBADMSG);
    /// File descriptors are not allowed here.
    pub const FDS_NOT_ALLOWED: StatusCode = StatusCode(i32::MIN + 7);
    /// A null where a value was required.
    pub const UNEXPECTED_NULL: StatusCode = StatusCode(i32::MIN + 8);

    fn name(self) -> Option<&'static str> {
        Some(match self {
            StatusCode::OK => "OK",
            StatusCode::UNKNOWN_ERROR => "UNKNOWN_ERROR",
            StatusCode::NO_MEMORY => "NO_MEMORY",
            StatusCode::INVALID_OPERATION => "INVALID_OPERATION",
            StatusCode::BAD_VALUE => "BAD_VALUE",
            StatusCode::BAD_TYPE => "BAD_TYPE",
            StatusCode::NAME_NOT_FOUND => "NAME_NOT_FOUND",
            StatusCode::PERMISSION_DENIED => "PERMISSION_DENIED",
            StatusCode::NO_INIT => "NO_INIT",
            StatusCode::ALREADY_EXISTS => "ALREADY_EXISTS",
            StatusCode::DEAD_OBJECT => "DEAD_OBJECT",
            StatusCode::FAILED_TRANSACTION => "FAILED_TRANSACTION",
            StatusCode::BAD_INDEX => "BAD_INDEX",
            StatusCode::NOT_ENOUGH_DATA => "NOT_ENOUGH_DATA",
            StatusCode::WOULD_BLOCK => "WOULD_BLOCK",
            StatusCode::TIMED_OUT => "TIMED_OUT",
            StatusCode::UNKNOWN_TRANSACTION => "UNKNOWN_TRANSACTION",
            StatusCode::FDS_NOT_ALLOWED => "FDS_NOT_ALLOWED",
            StatusCode::UNEXPECTED_NULL => "UNEXPECTED_NULL",
            _ => return None,
        })
    }
}

impl fmt::Debug for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "StatusCode({})", self.0),
        }
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// AIDL's exception codes. An open newtype.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExceptionCode(pub i32);

impl ExceptionCode {
    /// No exception.
    pub const NONE: ExceptionCode = ExceptionCode(0);
    /// The caller may not do this.
    pub const SECURITY: ExceptionCode = ExceptionCode(-1);
    /// A parcelable did not read back.
    pub const BAD_PARCELABLE: ExceptionCode = ExceptionCode(-2);
    /// A bad argument.
    pub const ILLEGAL_ARGUMENT: ExceptionCode = ExceptionCode(-3);
    /// A null where a value was required.
    pub const NULL_POINTER: ExceptionCode = ExceptionCode(-4);
    /// The service is in the wrong state.
    pub const ILLEGAL_STATE: ExceptionCode = ExceptionCode(-5);
    /// Not supported.
    pub const UNSUPPORTED_OPERATION: ExceptionCode = ExceptionCode(-7);
    /// A service-specific error; see [`Status::service_specific_code`].
    pub const SERVICE_SPECIFIC: ExceptionCode = ExceptionCode(-8);
    /// The transaction failed with a [`StatusCode`]; see [`Status::transaction_error`].
    pub const TRANSACTION_FAILED: ExceptionCode = ExceptionCode(-129);

    /// The constant's name, if this is one of AIDL's exception codes.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            ExceptionCode::NONE => "NONE",
            ExceptionCode::SECURITY => "SECURITY",
            ExceptionCode::BAD_PARCELABLE => "BAD_PARCELABLE",
            ExceptionCode::ILLEGAL_ARGUMENT => "ILLEGAL_ARGUMENT",
            ExceptionCode::NULL_POINTER => "NULL_POINTER",
            ExceptionCode::ILLEGAL_STATE => "ILLEGAL_STATE",
            ExceptionCode::UNSUPPORTED_OPERATION => "UNSUPPORTED_OPERATION",
            ExceptionCode::SERVICE_SPECIFIC => "SERVICE_SPECIFIC",
            ExceptionCode::TRANSACTION_FAILED => "TRANSACTION_FAILED",
            _ => return None,
        })
    }
}

impl fmt::Display for ExceptionCode {
    /// The name (`SECURITY`), or the number for a code AIDL does not define.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "exception {}", self.0),
        }
    }
}

/// The outcome a service returns to its caller, as AIDL's `Status`: an exception code, a
/// service-specific code or a transaction status code, and a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    exception: ExceptionCode,
    code: i32,
    message: String,
}

impl Status {
    /// An exception with a message.
    pub fn new_exception(exception: ExceptionCode, message: impl Into<String>) -> Status {
        Status {
            exception,
            code: 0,
            message: message.into(),
        }
    }

    /// A service-specific error: `code` means what the service's interface says it means.
    pub fn new_service_specific(code: i32, message: impl Into<String>) -> Status {
        Status {
            exception: ExceptionCode::SERVICE_SPECIFIC,
            code,
            message: message.into(),
        }
    }

    /// A transaction-level failure.
    pub fn from_code(code: StatusCode) -> Status {
        Status {
            exception: ExceptionCode::TRANSACTION_FAILED,
            code: code.0,
            message: String::new(),
        }
    }

    /// The exception code.
    pub fn exception_code(&self) -> ExceptionCode {
        self.exception
    }

    /// The service-specific code (meaningful for [`ExceptionCode::SERVICE_SPECIFIC`]).
    pub fn service_specific_code(&self) -> i32 {
        if self.exception == ExceptionCode::SERVICE_SPECIFIC {
            self.code
        } else {
            0
        }
    }

    /// The status code of a failed transaction (meaningful for
    /// [`ExceptionCode::TRANSACTION_FAILED`]).
    pub fn transaction_error(&self) -> StatusCode {
        if self.exception == ExceptionCode::TRANSACTION_FAILED {
            StatusCode(self.code)
        } else {
            StatusCode::OK
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn raw_parts(&self) -> (i32, i32, &str) {
        (self.exception.0, self.code, &self.message)
    }

    pub(crate) fn from_raw_parts(exception: i32, code: i32, message: String) -> Status {
        Status {
            exception: ExceptionCode(exception),
            code,
            message,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.exception {
            ExceptionCode::TRANSACTION_FAILED => {
                write!(f, "transaction failed: {}", StatusCode(self.code))?
            }
            ExceptionCode::SERVICE_SPECIFIC => write!(f, "service-specific error {}", self.code)?,
            e => write!(f, "{e}")?,
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for Status {}

impl From<std::io::Error> for Status {
    /// An OS error a handler ran into, for its caller: permission denied is `SECURITY`, an
    /// invalid argument `ILLEGAL_ARGUMENT`, an unsupported operation `UNSUPPORTED_OPERATION`;
    /// any other OS error is a service-specific error whose code is the errno, and the rest
    /// `ILLEGAL_STATE`. The message is the error's text.
    fn from(e: std::io::Error) -> Status {
        use std::io::ErrorKind;
        let message = e.to_string();
        match e.kind() {
            ErrorKind::PermissionDenied => Status::new_exception(ExceptionCode::SECURITY, message),
            ErrorKind::InvalidInput => {
                Status::new_exception(ExceptionCode::ILLEGAL_ARGUMENT, message)
            }
            ErrorKind::Unsupported => {
                Status::new_exception(ExceptionCode::UNSUPPORTED_OPERATION, message)
            }
            _ => match e.raw_os_error() {
                Some(errno) => Status::new_service_specific(errno, message),
                None => Status::new_exception(ExceptionCode::ILLEGAL_STATE, message),
            },
        }
    }
}

impl From<StatusCode> for Status {
    fn from(code: StatusCode) -> Status {
        Status::from_code(code)
    }
}

impl From<ParcelError> for Status {
    fn from(e: ParcelError) -> Status {
        Status::new_exception(ExceptionCode::BAD_PARCELABLE, e.to_string())
    }
}

impl From<Error> for Status {
    fn from(e: Error) -> Status {
        match e {
            Error::Service(s) => s,
            Error::Binder { code, context } => Status {
                message: context.into_owned(),
                ..Status::from_code(code)
            },
            other => Status {
                message: other.to_string(),
                ..Status::from_code(other.code())
            },
        }
    }
}

impl From<Status> for Error {
    /// A transaction failure becomes its status code again; anything else stays a `Status`.
    fn from(s: Status) -> Error {
        match s.transaction_error() {
            StatusCode::OK => Error::Service(s),
            code => Error::Binder {
                code,
                context: s.message.into(),
            },
        }
    }
}

/// Why a transaction or runtime operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A binder-level failure: dead object, timed out, would block, unknown transaction...
    #[error("{code}{}", if context.is_empty() { String::new() } else { format!(": {context}") })]
    Binder {
        /// The status code.
        code: StatusCode,
        /// What was going on.
        context: Cow<'static, str>,
    },
    /// The service answered with an exception or a service-specific error.
    #[error("{0}")]
    Service(Status),
    /// A parcel did not read back.
    #[error("bad parcel: {0}")]
    BadParcel(#[from] ParcelError),
    /// The bus or a channel failed.
    #[error("transport: {0}")]
    Transport(#[from] transport::Error),
}

impl Error {
    /// A binder-level failure.
    pub fn new(code: StatusCode, context: impl Into<Cow<'static, str>>) -> Error {
        Error::Binder {
            code,
            context: context.into(),
        }
    }

    /// The status code that sums this error up.
    pub fn code(&self) -> StatusCode {
        match self {
            Error::Binder { code, .. } => *code,
            Error::Service(s) if s.exception == ExceptionCode::TRANSACTION_FAILED => {
                StatusCode(s.code)
            }
            Error::Service(_) => StatusCode::FAILED_TRANSACTION,
            Error::BadParcel(_) => StatusCode::BAD_VALUE,
            Error::Transport(e) => match e {
                transport::Error::HungUp | transport::Error::BusGone => StatusCode::DEAD_OBJECT,
                transport::Error::WouldBlock => StatusCode::WOULD_BLOCK,
                transport::Error::TimedOut => StatusCode::TIMED_OUT,
                transport::Error::Refused { status, .. }
                    if *status == transport::MasterStatus::DENIED =>
                {
                    StatusCode::PERMISSION_DENIED
                }
                transport::Error::Refused { status, .. }
                    if *status == transport::MasterStatus::NO_SUCH_PEER =>
                {
                    StatusCode::NAME_NOT_FOUND
                }
                _ => StatusCode::FAILED_TRANSACTION,
            },
        }
    }
}

/// The binder runtime's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_as_names_not_numbers() {
        let denied = Status::new_exception(ExceptionCode::SECURITY, "uid 1000 may not call");
        assert_eq!(denied.to_string(), "SECURITY: uid 1000 may not call");
        assert_eq!(ExceptionCode(-42).to_string(), "exception -42");
        let unknown = Error::from(Status::from(StatusCode::UNKNOWN_TRANSACTION));
        assert_eq!(unknown.to_string(), "UNKNOWN_TRANSACTION");
        let timed = Error::new(StatusCode::TIMED_OUT, "no reply before the deadline");
        assert_eq!(timed.to_string(), "TIMED_OUT: no reply before the deadline");
    }

    #[test]
    fn os_errors_become_statuses_a_caller_can_tell_apart() {
        let io = |kind| std::io::Error::from(kind);
        let s = Status::from(io(std::io::ErrorKind::PermissionDenied));
        assert_eq!(s.exception_code(), ExceptionCode::SECURITY);
        let s = Status::from(std::io::Error::from_raw_os_error(libc::ENOENT));
        assert_eq!(
            (s.exception_code(), s.service_specific_code()),
            (ExceptionCode::SERVICE_SPECIFIC, libc::ENOENT)
        );
        assert!(s.message().contains("No such file"), "{}", s.message());
        let s = Status::from(io(std::io::ErrorKind::InvalidInput));
        assert_eq!(s.exception_code(), ExceptionCode::ILLEGAL_ARGUMENT);
        let s = Status::from(std::io::Error::other("disk on fire"));
        assert_eq!(s.exception_code(), ExceptionCode::ILLEGAL_STATE);
    }
}
