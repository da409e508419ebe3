#[allow(
    non_snake_case,
    non_camel_case_types,
    non_upper_case_globals,
    unused_mut,
    unused_variables,
    dead_code,
    missing_docs,
    clippy::all,
    clippy::pedantic,
    rustdoc::all
)]
pub mod org {
    pub mod example {
        /// Echoes text back.
        pub mod IEcho {
            /// The interface descriptor.
            pub const DESCRIPTOR: &str = "org.example.IEchoService";
            /// The longest text echoed.
            pub const MAX_LEN: i32 = 4096;
            pub const PREFIX: &str = "echo: ";
            /// Transaction codes, numbered as AOSP numbers them.
            pub mod transactions {
                /// The transaction code of `echo`.
                pub const ECHO: ::afbus_binder::TransactionCode = ::afbus_binder::TransactionCode(
                    1,
                );
                /// The transaction code of `fireAndForget`.
                pub const FIRE_AND_FORGET: ::afbus_binder::TransactionCode = ::afbus_binder::TransactionCode(
                    2,
                );
            }
            /// Echoes text back.
            pub trait IEcho: Send + Sync + 'static {
                /// Returns `text` unchanged.
                fn echo(
                    &self,
                    text: &str,
                ) -> ::std::result::Result<
                    ::std::string::String,
                    ::afbus_binder::Status,
                >;
                /// One-way: a proxy returns once the call is queued.
                fn fire_and_forget(
                    &self,
                    seq: i32,
                ) -> ::std::result::Result<(), ::afbus_binder::Status>;
                /// Writes the service's state for a person reading it (`afbus dump NAME`); the
                /// default has nothing to say.
                fn dump(
                    &self,
                    _out: &mut dyn ::std::io::Write,
                    _args: &[::std::string::String],
                ) -> ::std::result::Result<(), ::afbus_binder::Status> {
                    Err(
                        ::afbus_binder::Status::from_code(
                            ::afbus_binder::StatusCode::UNKNOWN_TRANSACTION,
                        ),
                    )
                }
            }
            /// A proxy for `IEcho`: calls an object through a binder reference, local or remote.
            #[derive(Clone, Debug, PartialEq, Eq)]
            pub struct IEchoProxy {
                binder: ::afbus_binder::SpIBinder,
            }
            impl IEchoProxy {
                /// Wraps a binder reference (not checked against the descriptor).
                pub fn from_binder(binder: ::afbus_binder::SpIBinder) -> Self {
                    Self { binder }
                }
                /// Wraps a binder reference after asking the object for its descriptor; an
                /// object of another interface is an `ILLEGAL_ARGUMENT` exception.
                pub fn from_binder_checked(
                    binder: ::afbus_binder::SpIBinder,
                ) -> ::std::result::Result<Self, ::afbus_binder::Status> {
                    let descriptor = binder.descriptor()?;
                    if descriptor == DESCRIPTOR {
                        Ok(Self { binder })
                    } else {
                        Err(
                            ::afbus_binder::Status::new_exception(
                                ::afbus_binder::ExceptionCode::ILLEGAL_ARGUMENT,
                                format!("expected a {DESCRIPTOR}, found a {descriptor}"),
                            ),
                        )
                    }
                }
                /// The binder reference.
                pub fn as_binder(&self) -> &::afbus_binder::SpIBinder {
                    &self.binder
                }
                /// Unwraps the binder reference.
                pub fn into_binder(self) -> ::afbus_binder::SpIBinder {
                    self.binder
                }
                /// Makes a local object of `runtime` serving `service`, and a proxy to it that can
                /// be passed in calls (as a callback) or published.
                pub fn new_local<T: IEcho>(
                    runtime: &::afbus_binder::Runtime,
                    service: T,
                ) -> Self {
                    Self::from_binder(runtime.local(IEchoStub::new(service)))
                }
            }
            impl ::afbus_binder::Interface for IEchoProxy {
                const DESCRIPTOR: &'static str = DESCRIPTOR;
                fn from_binder_checked(
                    binder: ::afbus_binder::SpIBinder,
                ) -> ::std::result::Result<Self, ::afbus_binder::Status> {
                    Self::from_binder_checked(binder)
                }
            }
            impl IEcho for IEchoProxy {
                fn echo(
                    &self,
                    text: &str,
                ) -> ::std::result::Result<
                    ::std::string::String,
                    ::afbus_binder::Status,
                > {
                    let mut _aidl_data = ::afbus_binder::Parcel::new();
                    _aidl_data.write_str(text);
                    let mut _aidl_reply = self
                        .binder
                        .transact(transactions::ECHO, _aidl_data)?;
                    let _aidl_ret: ::std::string::String = _aidl_reply.read_string()?;
                    Ok(_aidl_ret)
                }
                fn fire_and_forget(
                    &self,
                    seq: i32,
                ) -> ::std::result::Result<(), ::afbus_binder::Status> {
                    let mut _aidl_data = ::afbus_binder::Parcel::new();
                    _aidl_data.write_i32(seq);
                    self.binder
                        .transact_oneway(transactions::FIRE_AND_FORGET, _aidl_data)?;
                    Ok(())
                }
            }
            /// Serves a `IEcho` implementation: decodes each call and dispatches it by transaction code.
            pub struct IEchoStub<T: IEcho> {
                service: T,
            }
            type Handler<T> = fn(
                &T,
                &mut ::afbus_binder::Parcel,
                &mut ::afbus_binder::Parcel,
            ) -> ::std::result::Result<(), ::afbus_binder::Status>;
            impl<T: IEcho> IEchoStub<T> {
                /// The dispatch table, sorted by transaction code.
                const TABLE: &'static [(::afbus_binder::TransactionCode, Handler<T>)] = &[
                    (transactions::ECHO, handle_echo::<T>),
                    (transactions::FIRE_AND_FORGET, handle_fire_and_forget::<T>),
                ];
                /// Wraps an implementation.
                pub fn new(service: T) -> Self {
                    Self { service }
                }
                /// The implementation.
                pub fn service(&self) -> &T {
                    &self.service
                }
            }
            fn handle_echo<T: IEcho>(
                service: &T,
                _aidl_data: &mut ::afbus_binder::Parcel,
                _aidl_reply: &mut ::afbus_binder::Parcel,
            ) -> ::std::result::Result<(), ::afbus_binder::Status> {
                let mut _arg_text: ::std::string::String = _aidl_data.read_string()?;
                let _aidl_ret = service.echo(&_arg_text)?;
                _aidl_reply.write_str(&_aidl_ret);
                Ok(())
            }
            fn handle_fire_and_forget<T: IEcho>(
                service: &T,
                _aidl_data: &mut ::afbus_binder::Parcel,
                _aidl_reply: &mut ::afbus_binder::Parcel,
            ) -> ::std::result::Result<(), ::afbus_binder::Status> {
                let mut _arg_seq: i32 = _aidl_data.read_i32()?;
                let _aidl_ret = service.fire_and_forget(_arg_seq)?;
                Ok(())
            }
            impl<T: IEcho> ::afbus_binder::Binder for IEchoStub<T> {
                fn descriptor(&self) -> &str {
                    DESCRIPTOR
                }
                fn on_transact(
                    &self,
                    code: ::afbus_binder::TransactionCode,
                    data: &mut ::afbus_binder::Parcel,
                    reply: &mut ::afbus_binder::Parcel,
                    _ctx: &::afbus_binder::CallContext,
                ) -> ::std::result::Result<(), ::afbus_binder::Status> {
                    match Self::TABLE.binary_search_by_key(&code.0, |(c, _)| c.0) {
                        Ok(i) => (Self::TABLE[i].1)(&self.service, data, reply),
                        Err(_) => {
                            Err(
                                ::afbus_binder::Status::from_code(
                                    ::afbus_binder::StatusCode::UNKNOWN_TRANSACTION,
                                ),
                            )
                        }
                    }
                }
                fn dump(
                    &self,
                    out: &mut dyn ::std::io::Write,
                    args: &[::std::string::String],
                ) -> ::std::result::Result<(), ::afbus_binder::Status> {
                    self.service.dump(out, args)
                }
            }
        }
    }
}
