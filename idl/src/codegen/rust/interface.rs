//! Interfaces: a trait, a proxy that implements it over a binder reference, and a stub that
//! dispatches incoming transactions to an implementation through a table.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use super::items::consts;
use super::names::{doc_attrs, ident, snake_case};
use super::wire::{self, base_type, rust_type, Ctx, Place};
use crate::ir::{ArgDef, Dir, Interface, MethodDef, Ty, TyRef, TypeDef};

/// The type of an argument in the trait method's signature.
fn param_type(ctx: &Ctx<'_>, a: &ArgDef) -> TokenStream {
    if a.dir != Dir::In {
        let owned = rust_type(ctx, &a.ty, Place::Value);
        return quote!(&mut #owned);
    }
    if wire::is_copy(ctx, &a.ty) {
        return base_type(ctx, &a.ty.ty);
    }
    let borrowed = match &a.ty.ty {
        Ty::String => quote!(&str),
        Ty::List(_) | Ty::Array(..) => {
            let el = ctx
                .ir
                .element(&a.ty.ty)
                .map(|e| rust_type(ctx, &e, Place::Value));
            quote!(&[#el])
        }
        t => {
            let t = base_type(ctx, t);
            quote!(&#t)
        }
    };
    if a.ty.nullable {
        quote!(::std::option::Option<#borrowed>)
    } else {
        borrowed
    }
}

/// How the stub passes its local `n` to the implementation.
fn call_arg(ctx: &Ctx<'_>, a: &ArgDef, n: &TokenStream) -> TokenStream {
    if a.dir != Dir::In {
        return quote!(&mut #n);
    }
    if wire::is_copy(ctx, &a.ty) {
        return quote!(#n);
    }
    match (&a.ty.ty, a.ty.nullable) {
        (_, false) => quote!(&#n),
        (Ty::String | Ty::List(_) | Ty::Array(..), true) => quote!(#n.as_deref()),
        (_, true) => quote!(#n.as_ref()),
    }
}

fn ret_type(ctx: &Ctx<'_>, ret: &TyRef) -> TokenStream {
    if ret.ty == Ty::Void {
        quote!(())
    } else {
        rust_type(ctx, ret, Place::Value)
    }
}

fn method_ident(m: &MethodDef) -> proc_macro2::Ident {
    ident(&snake_case(&m.name))
}

fn arg_ident(a: &ArgDef) -> proc_macro2::Ident {
    ident(&snake_case(&a.name))
}

/// A method's parameters as the trait declares them (`name: Type`).
fn params(ctx: &Ctx<'_>, m: &MethodDef) -> Vec<TokenStream> {
    m.args
        .iter()
        .map(|a| {
            let n = arg_ident(a);
            let t = param_type(ctx, a);
            quote!(#n: #t)
        })
        .collect()
}

fn trait_method(ctx: &Ctx<'_>, m: &MethodDef) -> TokenStream {
    let name = method_ident(m);
    let doc = doc_attrs(m.doc.as_deref());
    let params = params(ctx, m);
    let ret = ret_type(ctx, &m.ret);
    let oneway_doc = match (m.oneway, m.doc.is_some()) {
        (false, _) => quote!(),
        (true, false) => quote!(#[doc = " One-way: a proxy returns once the call is queued."]),
        (true, true) => {
            quote!(#[doc = ""] #[doc = " One-way: a proxy returns once the call is queued."])
        }
    };
    quote! {
        #doc
        #oneway_doc
        fn #name(&self, #(#params),*) -> ::std::result::Result<#ret, ::afbus_binder::Status>;
    }
}

fn proxy_method(ctx: &Ctx<'_>, m: &MethodDef, asynchronous: bool) -> TokenStream {
    let name = method_ident(m);
    let code = format_ident!("{}", transaction_const(m));
    let params = params(ctx, m);
    let ret = ret_type(ctx, &m.ret);
    let data = quote!(_aidl_data);
    let reply = quote!(_aidl_reply);
    let writes = m.args.iter().filter(|a| a.dir != Dir::Out).map(|a| {
        let n = arg_ident(a);
        let e = if a.dir == Dir::InOut {
            quote!(&*#n)
        } else if wire::is_copy(ctx, &a.ty) {
            quote!(&#n)
        } else {
            quote!(#n)
        };
        wire::write(ctx, &a.ty, e, &data, Place::Value)
    });
    let asyncness = asynchronous.then(|| quote!(async));
    if m.oneway {
        let send = match asynchronous {
            false => quote!(self.binder.transact_oneway(transactions::#code, #data)?),
            true => quote!(self.binder.transact_oneway_async(transactions::#code, #data).await?),
        };
        return quote! {
            #asyncness fn #name(&self, #(#params),*) -> ::std::result::Result<#ret, ::afbus_binder::Status> {
                let mut #data = ::afbus_binder::Parcel::new();
                #(#writes)*
                #send;
                Ok(())
            }
        };
    }
    let transact = match asynchronous {
        false => quote!(self.binder.transact(transactions::#code, #data)?),
        true => quote!(self.binder.transact_async(transactions::#code, #data).await?),
    };
    let read_ret = if m.ret.ty == Ty::Void {
        quote!(let _aidl_ret = ();)
    } else {
        let r = wire::read(ctx, &m.ret, &reply, Place::Value);
        quote!(let _aidl_ret: #ret = #r;)
    };
    let reads = m.args.iter().filter(|a| a.dir != Dir::In).map(|a| {
        let n = arg_ident(a);
        let r = wire::read(ctx, &a.ty, &reply, Place::Value);
        quote!(*#n = #r;)
    });
    quote! {
        #asyncness fn #name(&self, #(#params),*) -> ::std::result::Result<#ret, ::afbus_binder::Status> {
            let mut #data = ::afbus_binder::Parcel::new();
            #(#writes)*
            let mut #reply = #transact;
            #read_ret
            #(#reads)*
            Ok(_aidl_ret)
        }
    }
}

fn handler(ctx: &Ctx<'_>, trait_name: &proc_macro2::Ident, m: &MethodDef) -> TokenStream {
    let name = method_ident(m);
    let handler = format_ident!("handle_{}", snake_case(&m.name));
    let data = quote!(_aidl_data);
    let reply = quote!(_aidl_reply);
    let locals = m.args.iter().map(|a| {
        let n = format_ident!("_arg_{}", snake_case(&a.name));
        let t = rust_type(ctx, &a.ty, Place::Value);
        let v = if a.dir == Dir::Out {
            super::default_value(ctx, &a.ty)
        } else {
            wire::read(ctx, &a.ty, &data, Place::Value)
        };
        quote!(let mut #n: #t = #v;)
    });
    let args = m.args.iter().map(|a| {
        let n = format_ident!("_arg_{}", snake_case(&a.name));
        call_arg(ctx, a, &quote!(#n))
    });
    let write_ret =
        (m.ret.ty != Ty::Void).then(|| write_owned(ctx, &m.ret, quote!(_aidl_ret), &reply));
    let write_outs = m.args.iter().filter(|a| a.dir != Dir::In).map(|a| {
        let n = format_ident!("_arg_{}", snake_case(&a.name));
        write_owned(ctx, &a.ty, quote!(#n), &reply)
    });
    quote! {
        fn #handler<T: #trait_name>(
            service: &T,
            #data: &mut ::afbus_binder::Parcel,
            #reply: &mut ::afbus_binder::Parcel,
        ) -> ::std::result::Result<(), ::afbus_binder::Status> {
            #(#locals)*
            let _aidl_ret = service.#name(#(#args),*)?;
            #write_ret
            #(#write_outs)*
            Ok(())
        }
    }
}

/// Writes an owned value the stub no longer needs: a file descriptor moves into the reply
/// instead of being duplicated.
fn write_owned(ctx: &Ctx<'_>, t: &TyRef, v: TokenStream, reply: &TokenStream) -> TokenStream {
    match (&t.ty, t.nullable) {
        (Ty::ParcelFileDescriptor, false) => quote!(#reply.write_fd(#v);),
        (Ty::ParcelFileDescriptor, true) => quote! {
            match #v {
                Some(fd) => { #reply.write_u8(1); #reply.write_fd(fd); }
                None => #reply.write_u8(0),
            }
        },
        _ => wire::write(ctx, t, quote!(&#v), reply, Place::Value),
    }
}

fn transaction_const(m: &MethodDef) -> String {
    snake_case(&m.name).to_uppercase()
}

/// The items of an interface's module.
pub fn interface(ctx: &Ctx<'_>, def: &TypeDef, i: &Interface) -> TokenStream {
    let name = def.name();
    let trait_name = ident(name);
    let proxy = format_ident!("{}Proxy", name);
    let stub = format_ident!("{}Stub", name);
    let doc = doc_attrs(def.doc.as_deref());
    let descriptor = &i.descriptor;
    let consts = consts(ctx, &i.consts);
    let codes = i.methods.iter().map(|m| {
        let c = format_ident!("{}", transaction_const(m));
        let code = Literal::u32_unsuffixed(m.code);
        let doc = format!(" The transaction code of `{}`.", m.name);
        quote!(#[doc = #doc] pub const #c: ::afbus_binder::TransactionCode = ::afbus_binder::TransactionCode(#code);)
    });
    let trait_methods = i.methods.iter().map(|m| trait_method(ctx, m));
    // The service's state for `afbus dump` (Binder::dump), unless the interface has a method
    // of that name itself.
    let has_dump = i.methods.iter().any(|m| snake_case(&m.name) == "dump");
    let (trait_dump, stub_dump) = if has_dump {
        (quote!(), quote!())
    } else {
        (
            quote! {
                /// Writes the service's state for a person reading it (`afbus dump NAME`); the
                /// default has nothing to say.
                fn dump(
                    &self,
                    _out: &mut dyn ::std::io::Write,
                    _args: &[::std::string::String],
                ) -> ::std::result::Result<(), ::afbus_binder::Status> {
                    Err(::afbus_binder::Status::from_code(
                        ::afbus_binder::StatusCode::UNKNOWN_TRANSACTION,
                    ))
                }
            },
            quote! {
                fn dump(
                    &self,
                    out: &mut dyn ::std::io::Write,
                    args: &[::std::string::String],
                ) -> ::std::result::Result<(), ::afbus_binder::Status> {
                    self.service.dump(out, args)
                }
            },
        )
    };
    let proxy_methods = i.methods.iter().map(|m| proxy_method(ctx, m, false));
    let handlers = i.methods.iter().map(|m| handler(ctx, &trait_name, m));
    let mut sorted: Vec<&MethodDef> = i.methods.iter().collect();
    sorted.sort_by_key(|m| m.code);
    let table = sorted.iter().map(|m| {
        let c = format_ident!("{}", transaction_const(m));
        let h = format_ident!("handle_{}", snake_case(&m.name));
        quote!((transactions::#c, #h::<T>),)
    });
    let meta = i.version.as_ref().map(|v| {
        let number = Literal::i32_unsuffixed(v.number);
        let hash = &v.hash;
        quote! {
            /// The frozen version of this interface.
            pub const VERSION: i32 = #number;
            /// The hash of the frozen interface definition.
            pub const HASH: &str = #hash;
        }
    });
    let meta_codes = i.version.as_ref().map(|_| {
        quote! {
            /// Answers [`VERSION`](super::VERSION), as AOSP's `getInterfaceVersion`.
            pub const GET_INTERFACE_VERSION: ::afbus_binder::TransactionCode = ::afbus_binder::TransactionCode(16_777_215);
            /// Answers [`HASH`](super::HASH), as AOSP's `getInterfaceHash`.
            pub const GET_INTERFACE_HASH: ::afbus_binder::TransactionCode = ::afbus_binder::TransactionCode(16_777_214);
        }
    });
    let meta_table = i.version.as_ref().map(|_| {
        quote! {
            (transactions::GET_INTERFACE_HASH, handle_get_interface_hash::<T>),
            (transactions::GET_INTERFACE_VERSION, handle_get_interface_version::<T>),
        }
    });
    let meta_handlers = i.version.as_ref().map(|_| {
        quote! {
            fn handle_get_interface_version<T: #trait_name>(
                _service: &T,
                _data: &mut ::afbus_binder::Parcel,
                reply: &mut ::afbus_binder::Parcel,
            ) -> ::std::result::Result<(), ::afbus_binder::Status> {
                reply.write_i32(VERSION);
                Ok(())
            }

            fn handle_get_interface_hash<T: #trait_name>(
                _service: &T,
                _data: &mut ::afbus_binder::Parcel,
                reply: &mut ::afbus_binder::Parcel,
            ) -> ::std::result::Result<(), ::afbus_binder::Status> {
                reply.write_str(HASH);
                Ok(())
            }
        }
    });
    let meta_proxy = i.version.as_ref().map(|_| {
        quote! {
            /// The version of the interface the remote object implements.
            pub fn interface_version(&self) -> ::std::result::Result<i32, ::afbus_binder::Status> {
                let mut reply = self.binder.transact(transactions::GET_INTERFACE_VERSION, ::afbus_binder::Parcel::new())?;
                Ok(reply.read_i32()?)
            }

            /// The hash of the interface the remote object implements.
            pub fn interface_hash(&self) -> ::std::result::Result<::std::string::String, ::afbus_binder::Status> {
                let mut reply = self.binder.transact(transactions::GET_INTERFACE_HASH, ::afbus_binder::Parcel::new())?;
                Ok(reply.read_string()?)
            }
        }
    });
    let proxy_doc = format!(
        " A proxy for `{name}`: calls an object through a binder reference, local or remote."
    );
    let stub_doc = format!(
        " Serves a `{name}` implementation: decodes each call and dispatches it by transaction code."
    );
    quote! {
        /// The interface descriptor.
        pub const DESCRIPTOR: &str = #descriptor;
        #meta
        #consts

        /// Transaction codes, numbered as AOSP numbers them.
        pub mod transactions {
            #(#codes)*
            #meta_codes
        }

        #doc
        pub trait #trait_name: Send + Sync + 'static {
            #(#trait_methods)*
            #trait_dump
        }

        #[doc = #proxy_doc]
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct #proxy {
            binder: ::afbus_binder::SpIBinder,
        }

        impl #proxy {
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
                    Err(::afbus_binder::Status::new_exception(
                        ::afbus_binder::ExceptionCode::ILLEGAL_ARGUMENT,
                        format!("expected a {DESCRIPTOR}, found a {descriptor}"),
                    ))
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
            pub fn new_local<T: #trait_name>(runtime: &::afbus_binder::Runtime, service: T) -> Self {
                Self::from_binder(runtime.local(#stub::new(service)))
            }

            #meta_proxy
        }

        impl ::afbus_binder::Interface for #proxy {
            const DESCRIPTOR: &'static str = DESCRIPTOR;

            fn from_binder_checked(
                binder: ::afbus_binder::SpIBinder,
            ) -> ::std::result::Result<Self, ::afbus_binder::Status> {
                Self::from_binder_checked(binder)
            }
        }

        impl #trait_name for #proxy {
            #(#proxy_methods)*
        }

        #[doc = #stub_doc]
        pub struct #stub<T: #trait_name> {
            service: T,
        }

        type Handler<T> = fn(
            &T,
            &mut ::afbus_binder::Parcel,
            &mut ::afbus_binder::Parcel,
        ) -> ::std::result::Result<(), ::afbus_binder::Status>;

        impl<T: #trait_name> #stub<T> {
            /// The dispatch table, sorted by transaction code.
            const TABLE: &'static [(::afbus_binder::TransactionCode, Handler<T>)] = &[#(#table)* #meta_table];

            /// Wraps an implementation.
            pub fn new(service: T) -> Self {
                Self { service }
            }

            /// The implementation.
            pub fn service(&self) -> &T {
                &self.service
            }
        }

        #(#handlers)*
        #meta_handlers

        impl<T: #trait_name> ::afbus_binder::Binder for #stub<T> {
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
                    Err(_) => Err(::afbus_binder::Status::from_code(
                        ::afbus_binder::StatusCode::UNKNOWN_TRANSACTION,
                    )),
                }
            }

            #stub_dump
        }
    }
}

/// A trait method's signature for async code: the same parameters, a future of the result.
fn async_trait_method(ctx: &Ctx<'_>, m: &MethodDef, send: bool) -> TokenStream {
    let name = method_ident(m);
    let doc = doc_attrs(m.doc.as_deref());
    let params = params(ctx, m);
    let ret = ret_type(ctx, &m.ret);
    let send = send.then(|| quote!(+ ::std::marker::Send));
    quote! {
        #doc
        fn #name(&self, #(#params),*) -> impl ::std::future::Future<
            Output = ::std::result::Result<#ret, ::afbus_binder::Status>,
        > #send;
    }
}

/// The async items of an interface's module (with `RustOptions::async_api`): `IFooAsync`, the
/// proxy's async calls; `IFooAsyncServer`, an implementation of async methods, served through
/// the blocking trait by `afbus_binder::tokio::Server`.
/// `cfg`, if any, goes on each item.
pub fn async_interface(
    ctx: &Ctx<'_>,
    def: &TypeDef,
    i: &Interface,
    cfg: Option<TokenStream>,
) -> TokenStream {
    let name = def.name();
    let trait_name = ident(name);
    let proxy = format_ident!("{}Proxy", name);
    let client = format_ident!("{}Async", name);
    let server = format_ident!("{}AsyncServer", name);
    let client_methods = i.methods.iter().map(|m| async_trait_method(ctx, m, true));
    let server_methods = i.methods.iter().map(|m| async_trait_method(ctx, m, false));
    let proxy_methods = i.methods.iter().map(|m| proxy_method(ctx, m, true));
    let adapter_methods = i.methods.iter().map(|m| {
        let name = method_ident(m);
        let params = params(ctx, m);
        let args = m.args.iter().map(arg_ident);
        let ret = ret_type(ctx, &m.ret);
        quote! {
            fn #name(&self, #(#params),*) -> ::std::result::Result<#ret, ::afbus_binder::Status> {
                self.block_on(self.service().#name(#(#args),*))
            }
        }
    });
    let client_doc = format!(
        " `{name}` called from async code (tokio): each call awaits its reply without blocking a worker thread; drop the future to give the call up."
    );
    let server_doc = format!(
        " `{name}` implemented as async methods: serve it with [`{proxy}::new_async_local`]. Each call runs on the afbus thread that received it (at the caller's priority), on the tokio runtime it was made in."
    );
    quote! {
        #[doc = #client_doc]
        #cfg
        pub trait #client: Send + Sync {
            #(#client_methods)*
        }

        #cfg
        impl #client for #proxy {
            #(#proxy_methods)*
        }

        #[doc = #server_doc]
        #cfg
        pub trait #server: Send + Sync + 'static {
            #(#server_methods)*
        }

        #cfg
        impl<T: #server> #trait_name for ::afbus_binder::tokio::Server<T> {
            #(#adapter_methods)*
        }

        #cfg
        impl #proxy {
            /// Makes a local object of `runtime` serving the async implementation `service` on
            /// the tokio runtime of the calling thread, and a proxy to it.
            ///
            /// # Panics
            /// Outside a tokio runtime.
            pub fn new_async_local<T: #server>(runtime: &::afbus_binder::Runtime, service: T) -> Self {
                Self::new_local(runtime, ::afbus_binder::tokio::Server::new(service))
            }
        }
    }
}
