//! Items the generated code needs that the runtime does not provide, emitted once per output
//! in a root module `afbus_idl_support` when some type uses them.

use proc_macro2::TokenStream;
use quote::quote;

use crate::ir::{Ir, Ty, TyRef, TypeKind};

/// The name of the support module at the root of the output.
pub const MODULE: &str = "afbus_idl_support";

/// Whether any field of any type in `ir` is a `ParcelableHolder`.
pub fn needs_parcelable_holder(ir: &Ir) -> bool {
    fn uses(t: &TyRef) -> bool {
        match &t.ty {
            Ty::ParcelableHolder => true,
            Ty::List(e) | Ty::Array(e, _) => uses(e),
            Ty::Defined(_, args) => args.iter().any(uses),
            _ => false,
        }
    }
    ir.types.iter().any(|t| match &t.kind {
        TypeKind::Parcelable(s) | TypeKind::Union(s) => s.fields.iter().any(|f| uses(&f.ty)),
        _ => false,
    })
}

/// The support module, with AIDL's `ParcelableHolder`.
pub fn module() -> TokenStream {
    quote! {
        /// Support types for the generated code.
        pub mod afbus_idl_support {
            /// AIDL's `ParcelableHolder`: an extension slot that holds one parcelable of any
            /// type, named by its descriptor, so that a parcelable can be extended without
            /// changing its definition. The extension travels as bytes, so it may not contain
            /// binder objects or file descriptors.
            #[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
            pub struct ParcelableHolder {
                extension: ::std::option::Option<(::std::string::String, ::std::vec::Vec<u8>)>,
            }

            impl ParcelableHolder {
                /// Stores `value` as the extension, under `descriptor` (the extension type's
                /// `DESCRIPTOR`). Fails if the value holds binder objects or fds.
                pub fn set_extension<T: ::afbus_binder::Parcelable>(
                    &mut self,
                    descriptor: &str,
                    value: &T,
                ) -> ::std::result::Result<(), ::afbus_binder::ParcelError> {
                    let mut parcel = ::afbus_binder::Parcel::new();
                    parcel.write(value);
                    if parcel.fd_count() != 0 || parcel.object_count() != 0 {
                        return Err(::afbus_binder::ParcelError::InvalidValue {
                            offset: 0,
                            what: "extension holding binder objects or file descriptors",
                        });
                    }
                    self.extension = Some((descriptor.to_string(), parcel.as_bytes().to_vec()));
                    Ok(())
                }

                /// The extension, if one is stored under `descriptor`.
                pub fn get_extension<T: ::afbus_binder::Parcelable>(
                    &self,
                    descriptor: &str,
                ) -> ::std::result::Result<::std::option::Option<T>, ::afbus_binder::ParcelError> {
                    match &self.extension {
                        Some((d, bytes)) if d == descriptor => {
                            let mut parcel = ::afbus_binder::Parcel::from_parts(bytes.clone(), ::std::vec::Vec::new());
                            parcel.read::<T>().map(Some)
                        }
                        _ => Ok(None),
                    }
                }

                /// The descriptor of the stored extension.
                pub fn descriptor(&self) -> ::std::option::Option<&str> {
                    self.extension.as_ref().map(|(d, _)| d.as_str())
                }

                /// Removes the extension.
                pub fn clear(&mut self) {
                    self.extension = None;
                }
            }

            impl ::afbus_binder::Parcelable for ParcelableHolder {
                fn write_to(&self, parcel: &mut ::afbus_binder::Parcel) {
                    match &self.extension {
                        None => parcel.write_u8(0),
                        Some((descriptor, bytes)) => {
                            parcel.write_u8(1);
                            parcel.write_str(descriptor);
                            parcel.write_bytes(bytes);
                        }
                    }
                }

                fn read_from(
                    parcel: &mut ::afbus_binder::Parcel,
                ) -> ::std::result::Result<Self, ::afbus_binder::ParcelError> {
                    let offset = parcel.position();
                    let extension = match parcel.read_u8()? {
                        0 => None,
                        1 => Some((parcel.read_string()?, parcel.read_bytes()?)),
                        value => return Err(::afbus_binder::ParcelError::InvalidTag { offset, value }),
                    };
                    Ok(Self { extension })
                }
            }
        }
    }
}
