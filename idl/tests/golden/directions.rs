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
        pub mod IStore {
            /// The interface descriptor.
            pub const DESCRIPTOR: &str = "org.example.IStore";
            /// Transaction codes, numbered as AOSP numbers them.
            pub mod transactions {
                /// The transaction code of `put`.
                pub const PUT: ::afbus_binder::TransactionCode = ::afbus_binder::TransactionCode(
                    11,
                );
                /// The transaction code of `get`.
                pub const GET: ::afbus_binder::TransactionCode = ::afbus_binder::TransactionCode(
                    12,
                );
                /// The transaction code of `update`.
                pub const UPDATE: ::afbus_binder::TransactionCode = ::afbus_binder::TransactionCode(
                    13,
                );
                /// The transaction code of `token`.
                pub const TOKEN: ::afbus_binder::TransactionCode = ::afbus_binder::TransactionCode(
                    14,
                );
                /// The transaction code of `open`.
                pub const OPEN: ::afbus_binder::TransactionCode = ::afbus_binder::TransactionCode(
                    15,
                );
                /// The transaction code of `watch`.
                pub const WATCH: ::afbus_binder::TransactionCode = ::afbus_binder::TransactionCode(
                    21,
                );
            }
            pub trait IStore: Send + Sync + 'static {
                fn put(
                    &self,
                    item: &super::Item::Item,
                    payload: ::std::option::Option<&[i8]>,
                ) -> ::std::result::Result<(), ::afbus_binder::Status>;
                fn get(
                    &self,
                    key: &str,
                    item: &mut super::Item::Item,
                ) -> ::std::result::Result<bool, ::afbus_binder::Status>;
                fn update(
                    &self,
                    item: &mut super::Item::Item,
                ) -> ::std::result::Result<(), ::afbus_binder::Status>;
                fn token(
                    &self,
                ) -> ::std::result::Result<
                    ::std::option::Option<::afbus_binder::SpIBinder>,
                    ::afbus_binder::Status,
                >;
                fn open(
                    &self,
                    dir: &::std::os::fd::OwnedFd,
                    flags: i32,
                ) -> ::std::result::Result<
                    ::std::os::fd::OwnedFd,
                    ::afbus_binder::Status,
                >;
                fn watch(
                    &self,
                    watcher: &super::IWatcher::IWatcherProxy,
                    others: &[super::IWatcher::IWatcherProxy],
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
            /// A proxy for `IStore`: calls an object through a binder reference, local or remote.
            #[derive(Clone, Debug, PartialEq, Eq)]
            pub struct IStoreProxy {
                binder: ::afbus_binder::SpIBinder,
            }
            impl IStoreProxy {
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
                pub fn new_local<T: IStore>(
                    runtime: &::afbus_binder::Runtime,
                    service: T,
                ) -> Self {
                    Self::from_binder(runtime.local(IStoreStub::new(service)))
                }
            }
            impl ::afbus_binder::Interface for IStoreProxy {
                const DESCRIPTOR: &'static str = DESCRIPTOR;
                fn from_binder_checked(
                    binder: ::afbus_binder::SpIBinder,
                ) -> ::std::result::Result<Self, ::afbus_binder::Status> {
                    Self::from_binder_checked(binder)
                }
            }
            impl IStore for IStoreProxy {
                fn put(
                    &self,
                    item: &super::Item::Item,
                    payload: ::std::option::Option<&[i8]>,
                ) -> ::std::result::Result<(), ::afbus_binder::Status> {
                    let mut _aidl_data = ::afbus_binder::Parcel::new();
                    _aidl_data.write(item);
                    match payload {
                        Some(x) => {
                            _aidl_data.write_u8(1);
                            _aidl_data.write_slice(x);
                        }
                        None => _aidl_data.write_u8(0),
                    }
                    let mut _aidl_reply = self
                        .binder
                        .transact(transactions::PUT, _aidl_data)?;
                    let _aidl_ret = ();
                    Ok(_aidl_ret)
                }
                fn get(
                    &self,
                    key: &str,
                    item: &mut super::Item::Item,
                ) -> ::std::result::Result<bool, ::afbus_binder::Status> {
                    let mut _aidl_data = ::afbus_binder::Parcel::new();
                    _aidl_data.write_str(key);
                    let mut _aidl_reply = self
                        .binder
                        .transact(transactions::GET, _aidl_data)?;
                    let _aidl_ret: bool = _aidl_reply.read_bool()?;
                    *item = _aidl_reply.read::<super::Item::Item>()?;
                    Ok(_aidl_ret)
                }
                fn update(
                    &self,
                    item: &mut super::Item::Item,
                ) -> ::std::result::Result<(), ::afbus_binder::Status> {
                    let mut _aidl_data = ::afbus_binder::Parcel::new();
                    _aidl_data.write(&*item);
                    let mut _aidl_reply = self
                        .binder
                        .transact(transactions::UPDATE, _aidl_data)?;
                    let _aidl_ret = ();
                    *item = _aidl_reply.read::<super::Item::Item>()?;
                    Ok(_aidl_ret)
                }
                fn token(
                    &self,
                ) -> ::std::result::Result<
                    ::std::option::Option<::afbus_binder::SpIBinder>,
                    ::afbus_binder::Status,
                > {
                    let mut _aidl_data = ::afbus_binder::Parcel::new();
                    let mut _aidl_reply = self
                        .binder
                        .transact(transactions::TOKEN, _aidl_data)?;
                    let _aidl_ret: ::std::option::Option<::afbus_binder::SpIBinder> = _aidl_reply
                        .read_nullable_binder()?;
                    Ok(_aidl_ret)
                }
                fn open(
                    &self,
                    dir: &::std::os::fd::OwnedFd,
                    flags: i32,
                ) -> ::std::result::Result<
                    ::std::os::fd::OwnedFd,
                    ::afbus_binder::Status,
                > {
                    let mut _aidl_data = ::afbus_binder::Parcel::new();
                    match dir.try_clone() {
                        Ok(fd) => _aidl_data.write_fd(fd),
                        Err(_) => _aidl_data.write_u32(u32::MAX),
                    }
                    _aidl_data.write_i32(flags);
                    let mut _aidl_reply = self
                        .binder
                        .transact(transactions::OPEN, _aidl_data)?;
                    let _aidl_ret: ::std::os::fd::OwnedFd = _aidl_reply.take_fd()?;
                    Ok(_aidl_ret)
                }
                fn watch(
                    &self,
                    watcher: &super::IWatcher::IWatcherProxy,
                    others: &[super::IWatcher::IWatcherProxy],
                ) -> ::std::result::Result<(), ::afbus_binder::Status> {
                    let mut _aidl_data = ::afbus_binder::Parcel::new();
                    _aidl_data.write_binder(watcher.as_binder());
                    _aidl_data
                        .write_u32(u32::try_from(others.len()).unwrap_or(u32::MAX));
                    for x in others.iter() {
                        _aidl_data.write_binder(x.as_binder());
                    }
                    let mut _aidl_reply = self
                        .binder
                        .transact(transactions::WATCH, _aidl_data)?;
                    let _aidl_ret = ();
                    Ok(_aidl_ret)
                }
            }
            /// Serves a `IStore` implementation: decodes each call and dispatches it by transaction code.
            pub struct IStoreStub<T: IStore> {
                service: T,
            }
            type Handler<T> = fn(
                &T,
                &mut ::afbus_binder::Parcel,
                &mut ::afbus_binder::Parcel,
            ) -> ::std::result::Result<(), ::afbus_binder::Status>;
            impl<T: IStore> IStoreStub<T> {
                /// The dispatch table, sorted by transaction code.
                const TABLE: &'static [(::afbus_binder::TransactionCode, Handler<T>)] = &[
                    (transactions::PUT, handle_put::<T>),
                    (transactions::GET, handle_get::<T>),
                    (transactions::UPDATE, handle_update::<T>),
                    (transactions::TOKEN, handle_token::<T>),
                    (transactions::OPEN, handle_open::<T>),
                    (transactions::WATCH, handle_watch::<T>),
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
            fn handle_put<T: IStore>(
                service: &T,
                _aidl_data: &mut ::afbus_binder::Parcel,
                _aidl_reply: &mut ::afbus_binder::Parcel,
            ) -> ::std::result::Result<(), ::afbus_binder::Status> {
                let mut _arg_item: super::Item::Item = _aidl_data
                    .read::<super::Item::Item>()?;
                let mut _arg_payload: ::std::option::Option<::std::vec::Vec<i8>> = _aidl_data
                    .read_option::<::std::vec::Vec<i8>>()?;
                let _aidl_ret = service.put(&_arg_item, _arg_payload.as_deref())?;
                Ok(())
            }
            fn handle_get<T: IStore>(
                service: &T,
                _aidl_data: &mut ::afbus_binder::Parcel,
                _aidl_reply: &mut ::afbus_binder::Parcel,
            ) -> ::std::result::Result<(), ::afbus_binder::Status> {
                let mut _arg_key: ::std::string::String = _aidl_data.read_string()?;
                let mut _arg_item: super::Item::Item = ::std::default::Default::default();
                let _aidl_ret = service.get(&_arg_key, &mut _arg_item)?;
                _aidl_reply.write_bool(_aidl_ret);
                _aidl_reply.write(&_arg_item);
                Ok(())
            }
            fn handle_update<T: IStore>(
                service: &T,
                _aidl_data: &mut ::afbus_binder::Parcel,
                _aidl_reply: &mut ::afbus_binder::Parcel,
            ) -> ::std::result::Result<(), ::afbus_binder::Status> {
                let mut _arg_item: super::Item::Item = _aidl_data
                    .read::<super::Item::Item>()?;
                let _aidl_ret = service.update(&mut _arg_item)?;
                _aidl_reply.write(&_arg_item);
                Ok(())
            }
            fn handle_token<T: IStore>(
                service: &T,
                _aidl_data: &mut ::afbus_binder::Parcel,
                _aidl_reply: &mut ::afbus_binder::Parcel,
            ) -> ::std::result::Result<(), ::afbus_binder::Status> {
                let _aidl_ret = service.token()?;
                _aidl_reply
                    .write_nullable_binder(
                        match &_aidl_ret {
                            Some(x) => Some(x),
                            None => None,
                        },
                    );
                Ok(())
            }
            fn handle_open<T: IStore>(
                service: &T,
                _aidl_data: &mut ::afbus_binder::Parcel,
                _aidl_reply: &mut ::afbus_binder::Parcel,
            ) -> ::std::result::Result<(), ::afbus_binder::Status> {
                let mut _arg_dir: ::std::os::fd::OwnedFd = _aidl_data.take_fd()?;
                let mut _arg_flags: i32 = _aidl_data.read_i32()?;
                let _aidl_ret = service.open(&_arg_dir, _arg_flags)?;
                _aidl_reply.write_fd(_aidl_ret);
                Ok(())
            }
            fn handle_watch<T: IStore>(
                service: &T,
                _aidl_data: &mut ::afbus_binder::Parcel,
                _aidl_reply: &mut ::afbus_binder::Parcel,
            ) -> ::std::result::Result<(), ::afbus_binder::Status> {
                let mut _arg_watcher: super::IWatcher::IWatcherProxy = super::IWatcher::IWatcherProxy::from_binder(
                    _aidl_data.read_binder()?,
                );
                let mut _arg_others: ::std::vec::Vec<super::IWatcher::IWatcherProxy> = {
                    let count = _aidl_data.read_u32()? as usize;
                    let mut items = ::std::vec::Vec::with_capacity(
                        count.min(_aidl_data.remaining()),
                    );
                    for _ in 0..count {
                        items
                            .push(
                                super::IWatcher::IWatcherProxy::from_binder(
                                    _aidl_data.read_binder()?,
                                ),
                            );
                    }
                    items
                };
                let _aidl_ret = service.watch(&_arg_watcher, &_arg_others)?;
                Ok(())
            }
            impl<T: IStore> ::afbus_binder::Binder for IStoreStub<T> {
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
        pub mod IWatcher {
            /// The interface descriptor.
            pub const DESCRIPTOR: &str = "org.example.IWatcher";
            /// Transaction codes, numbered as AOSP numbers them.
            pub mod transactions {
                /// The transaction code of `changed`.
                pub const CHANGED: ::afbus_binder::TransactionCode = ::afbus_binder::TransactionCode(
                    1,
                );
            }
            pub trait IWatcher: Send + Sync + 'static {
                /// One-way: a proxy returns once the call is queued.
                fn changed(
                    &self,
                    key: &str,
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
            /// A proxy for `IWatcher`: calls an object through a binder reference, local or remote.
            #[derive(Clone, Debug, PartialEq, Eq)]
            pub struct IWatcherProxy {
                binder: ::afbus_binder::SpIBinder,
            }
            impl IWatcherProxy {
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
                pub fn new_local<T: IWatcher>(
                    runtime: &::afbus_binder::Runtime,
                    service: T,
                ) -> Self {
                    Self::from_binder(runtime.local(IWatcherStub::new(service)))
                }
            }
            impl ::afbus_binder::Interface for IWatcherProxy {
                const DESCRIPTOR: &'static str = DESCRIPTOR;
                fn from_binder_checked(
                    binder: ::afbus_binder::SpIBinder,
                ) -> ::std::result::Result<Self, ::afbus_binder::Status> {
                    Self::from_binder_checked(binder)
                }
            }
            impl IWatcher for IWatcherProxy {
                fn changed(
                    &self,
                    key: &str,
                ) -> ::std::result::Result<(), ::afbus_binder::Status> {
                    let mut _aidl_data = ::afbus_binder::Parcel::new();
                    _aidl_data.write_str(key);
                    self.binder.transact_oneway(transactions::CHANGED, _aidl_data)?;
                    Ok(())
                }
            }
            /// Serves a `IWatcher` implementation: decodes each call and dispatches it by transaction code.
            pub struct IWatcherStub<T: IWatcher> {
                service: T,
            }
            type Handler<T> = fn(
                &T,
                &mut ::afbus_binder::Parcel,
                &mut ::afbus_binder::Parcel,
            ) -> ::std::result::Result<(), ::afbus_binder::Status>;
            impl<T: IWatcher> IWatcherStub<T> {
                /// The dispatch table, sorted by transaction code.
                const TABLE: &'static [(::afbus_binder::TransactionCode, Handler<T>)] = &[
                    (transactions::CHANGED, handle_changed::<T>),
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
            fn handle_changed<T: IWatcher>(
                service: &T,
                _aidl_data: &mut ::afbus_binder::Parcel,
                _aidl_reply: &mut ::afbus_binder::Parcel,
            ) -> ::std::result::Result<(), ::afbus_binder::Status> {
                let mut _arg_key: ::std::string::String = _aidl_data.read_string()?;
                let _aidl_ret = service.changed(&_arg_key)?;
                Ok(())
            }
            impl<T: IWatcher> ::afbus_binder::Binder for IWatcherStub<T> {
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
        pub mod Item {
            /// The parcelable's descriptor, which names it as a `ParcelableHolder` extension.
            pub const DESCRIPTOR: &str = "org.example.Item";
            #[derive(Debug)]
            pub struct Item {
                pub key: ::std::string::String,
                pub fd: ::std::option::Option<::std::os::fd::OwnedFd>,
                pub owner: ::std::option::Option<::afbus_binder::SpIBinder>,
            }
            impl ::std::default::Default for Item {
                fn default() -> Self {
                    Self {
                        key: ::std::default::Default::default(),
                        fd: ::std::default::Default::default(),
                        owner: ::std::default::Default::default(),
                    }
                }
            }
            impl ::afbus_binder::Parcelable for Item {
                fn write_to(&self, parcel: &mut ::afbus_binder::Parcel) {
                    parcel.write_str(&self.key);
                    match &self.fd {
                        Some(x) => {
                            parcel.write_u8(1);
                            match x.try_clone() {
                                Ok(fd) => parcel.write_fd(fd),
                                Err(_) => parcel.write_u32(u32::MAX),
                            }
                        }
                        None => parcel.write_u8(0),
                    }
                    parcel
                        .write_nullable_binder(
                            match &self.owner {
                                Some(x) => Some(x),
                                None => None,
                            },
                        );
                }
                fn read_from(
                    parcel: &mut ::afbus_binder::Parcel,
                ) -> ::std::result::Result<Self, ::afbus_binder::ParcelError> {
                    Ok(Self {
                        key: parcel.read_string()?,
                        fd: {
                            let offset = parcel.position();
                            match parcel.read_u8()? {
                                0 => None,
                                1 => Some(parcel.take_fd()?),
                                value => {
                                    return Err(
                                        ::afbus_binder::ParcelError::InvalidTag {
                                            offset,
                                            value,
                                        }
                                            .into(),
                                    );
                                }
                            }
                        },
                        owner: parcel.read_nullable_binder()?,
                    })
                }
            }
        }
    }
}
