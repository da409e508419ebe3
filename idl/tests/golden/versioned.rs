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
        /// A frozen interface: its version and hash come from the dump's directory and `.hash`.
        pub mod IVersioned {
            /// The interface descriptor.
            pub const DESCRIPTOR: &str = "org.example.IVersioned";
            /// The frozen version of this interface.
            pub const VERSION: i32 = 2;
            /// The hash of the frozen interface definition.
            pub const HASH: &str = "3c01bdbb26f358bab27f267924aa2c9a03fcfdb8";
            /// Transaction codes, numbered as AOSP numbers them.
            pub mod transactions {
                /// The transaction code of `twice`.
                pub const TWICE: ::afbus_binder::TransactionCode = ::afbus_binder::TransactionCode(
                    1,
                );
                /// Answers [`VERSION`](super::VERSION), as AOSP's `getInterfaceVersion`.
                pub const GET_INTERFACE_VERSION: ::afbus_binder::TransactionCode = ::afbus_binder::TransactionCode(
                    16_777_215,
                );
                /// Answers [`HASH`](super::HASH), as AOSP's `getInterfaceHash`.
                pub const GET_INTERFACE_HASH: ::afbus_binder::TransactionCode = ::afbus_binder::TransactionCode(
                    16_777_214,
                );
            }
            /// A frozen interface: its version and hash come from the dump's directory and `.hash`.
            pub trait IVersioned: Send + Sync + 'static {
                fn twice(
                    &self,
                    x: i32,
                ) -> ::std::result::Result<i32, ::afbus_binder::Status>;
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
            /// A proxy for `IVersioned`: calls an object through a binder reference, local or remote.
            #[derive(Clone, Debug, PartialEq, Eq)]
            pub struct IVersionedProxy {
                binder: ::afbus_binder::SpIBinder,
            }
            impl IVersionedProxy {
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
                pub fn new_local<T: IVersioned>(
                    runtime: &::afbus_binder::Runtime,
                    service: T,
                ) -> Self {
                    Self::from_binder(runtime.local(IVersionedStub::new(service)))
                }
                /// The version of the interface the remote object implements.
                pub fn interface_version(
                    &self,
                ) -> ::std::result::Result<i32, ::afbus_binder::Status> {
                    let mut reply = self
                        .binder
                        .transact(
                            transactions::GET_INTERFACE_VERSION,
                            ::afbus_binder::Parcel::new(),
                        )?;
                    Ok(reply.read_i32()?)
                }
                /// The hash of the interface the remote object implements.
                pub fn interface_hash(
                    &self,
                ) -> ::std::result::Result<
                    ::std::string::String,
                    ::afbus_binder::Status,
                > {
                    let mut reply = self
                        .binder
                        .transact(
                            transactions::GET_INTERFACE_HASH,
                            ::afbus_binder::Parcel::new(),
                        )?;
                    Ok(reply.read_string()?)
                }
            }
            impl ::afbus_binder::Interface for IVersionedProxy {
                const DESCRIPTOR: &'static str = DESCRIPTOR;
                fn from_binder_checked(
                    binder: ::afbus_binder::SpIBinder,
                ) -> ::std::result::Result<Self, ::afbus_binder::Status> {
                    Self::from_binder_checked(binder)
                }
            }
            impl IVersioned for IVersionedProxy {
                fn twice(
                    &self,
                    x: i32,
                ) -> ::std::result::Result<i32, ::afbus_binder::Status> {
                    let mut _aidl_data = ::afbus_binder::Parcel::new();
                    _aidl_data.write_i32(x);
                    let mut _aidl_reply = self
                        .binder
                        .transact(transactions::TWICE, _aidl_data)?;
                    let _aidl_ret: i32 = _aidl_reply.read_i32()?;
                    Ok(_aidl_ret)
                }
            }
            /// Serves a `IVersioned` implementation: decodes each call and dispatches it by transaction code.
            pub struct IVersionedStub<T: IVersioned> {
                service: T,
            }
            type Handler<T> = fn(
                &T,
                &mut ::afbus_binder::Parcel,
                &mut ::afbus_binder::Parcel,
            ) -> ::std::result::Result<(), ::afbus_binder::Status>;
            impl<T: IVersioned> IVersionedStub<T> {
                /// The dispatch table, sorted by transaction code.
                const TABLE: &'static [(::afbus_binder::TransactionCode, Handler<T>)] = &[
                    (transactions::TWICE, handle_twice::<T>),
                    (transactions::GET_INTERFACE_HASH, handle_get_interface_hash::<T>),
                    (
                        transactions::GET_INTERFACE_VERSION,
                        handle_get_interface_version::<T>,
                    ),
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
            fn handle_twice<T: IVersioned>(
                service: &T,
                _aidl_data: &mut ::afbus_binder::Parcel,
                _aidl_reply: &mut ::afbus_binder::Parcel,
            ) -> ::std::result::Result<(), ::afbus_binder::Status> {
                let mut _arg_x: i32 = _aidl_data.read_i32()?;
                let _aidl_ret = service.twice(_arg_x)?;
                _aidl_reply.write_i32(_aidl_ret);
                Ok(())
            }
            fn handle_get_interface_version<T: IVersioned>(
                _service: &T,
                _data: &mut ::afbus_binder::Parcel,
                reply: &mut ::afbus_binder::Parcel,
            ) -> ::std::result::Result<(), ::afbus_binder::Status> {
                reply.write_i32(VERSION);
                Ok(())
            }
            fn handle_get_interface_hash<T: IVersioned>(
                _service: &T,
                _data: &mut ::afbus_binder::Parcel,
                reply: &mut ::afbus_binder::Parcel,
            ) -> ::std::result::Result<(), ::afbus_binder::Status> {
                reply.write_str(HASH);
                Ok(())
            }
            impl<T: IVersioned> ::afbus_binder::Binder for IVersionedStub<T> {
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
