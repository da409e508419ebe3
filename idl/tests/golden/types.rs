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
        /// A parcelable with defaults, a nested type and a recursive link.
        pub mod Config {
            /// The parcelable's descriptor, which names it as a `ParcelableHolder` extension.
            pub const DESCRIPTOR: &str = "org.example.Config";
            pub const MAX_SIZE: i64 = 1099511627776;
            /// A parcelable with defaults, a nested type and a recursive link.
            #[derive(Debug, Clone, PartialEq)]
            pub struct Config {
                pub enabled: bool,
                pub level: i8,
                pub sep: u16,
                pub ratio: f64,
                pub name: ::std::string::String,
                pub comment: ::std::option::Option<::std::string::String>,
                pub triple: ::std::vec::Vec<i32>,
                pub mode: super::Mode::Mode,
                pub value: super::Value::Value,
                pub limit: self::Limit::Limit,
                pub tags: ::std::vec::Vec<::std::string::String>,
                pub parent: ::std::option::Option<::std::boxed::Box<self::Config>>,
            }
            impl ::std::default::Default for Config {
                fn default() -> Self {
                    Self {
                        enabled: true,
                        level: 127,
                        sep: 44,
                        ratio: 0.5,
                        name: ::std::string::String::from("config"),
                        comment: ::std::default::Default::default(),
                        triple: ::std::vec![1, 2, 3],
                        mode: super::Mode::Mode::FAST,
                        value: ::std::default::Default::default(),
                        limit: ::std::default::Default::default(),
                        tags: ::std::default::Default::default(),
                        parent: ::std::default::Default::default(),
                    }
                }
            }
            impl ::afbus_binder::Parcelable for Config {
                fn write_to(&self, parcel: &mut ::afbus_binder::Parcel) {
                    parcel.write_bool(self.enabled);
                    parcel.write_i8(self.level);
                    parcel.write_char(self.sep);
                    parcel.write_f64(self.ratio);
                    parcel.write_str(&self.name);
                    parcel.write_option(self.comment.as_ref());
                    parcel.write_slice(&self.triple);
                    parcel.write(&self.mode);
                    parcel.write(&self.value);
                    parcel.write(&self.limit);
                    parcel.write_slice(&self.tags);
                    match &self.parent {
                        Some(x) => {
                            parcel.write_u8(1);
                            parcel.write(&**x);
                        }
                        None => parcel.write_u8(0),
                    }
                }
                fn read_from(
                    parcel: &mut ::afbus_binder::Parcel,
                ) -> ::std::result::Result<Self, ::afbus_binder::ParcelError> {
                    Ok(Self {
                        enabled: parcel.read_bool()?,
                        level: parcel.read_i8()?,
                        sep: parcel.read_char()?,
                        ratio: parcel.read_f64()?,
                        name: parcel.read_string()?,
                        comment: parcel.read_option::<::std::string::String>()?,
                        triple: {
                            let offset = parcel.position();
                            let items = parcel.read_vec::<i32>()?;
                            if items.len() != 3 {
                                return Err(
                                    ::afbus_binder::ParcelError::InvalidValue {
                                        offset,
                                        what: "fixed-size array length",
                                    }
                                        .into(),
                                );
                            }
                            items
                        },
                        mode: parcel.read::<super::Mode::Mode>()?,
                        value: parcel.read::<super::Value::Value>()?,
                        limit: parcel.read::<self::Limit::Limit>()?,
                        tags: parcel.read_vec::<::std::string::String>()?,
                        parent: {
                            let offset = parcel.position();
                            match parcel.read_u8()? {
                                0 => None,
                                1 => {
                                    Some(::std::boxed::Box::new(parcel.read::<self::Config>()?))
                                }
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
                    })
                }
            }
            pub mod Limit {
                /// The parcelable's descriptor, which names it as a `ParcelableHolder` extension.
                pub const DESCRIPTOR: &str = "org.example.Config.Limit";
                #[derive(Debug, Clone, PartialEq)]
                pub struct Limit {
                    pub soft: i32,
                    pub hard: i32,
                }
                impl ::std::default::Default for Limit {
                    fn default() -> Self {
                        Self { soft: 10, hard: -1 }
                    }
                }
                impl ::afbus_binder::Parcelable for Limit {
                    fn write_to(&self, parcel: &mut ::afbus_binder::Parcel) {
                        parcel.write_i32(self.soft);
                        parcel.write_i32(self.hard);
                    }
                    fn read_from(
                        parcel: &mut ::afbus_binder::Parcel,
                    ) -> ::std::result::Result<Self, ::afbus_binder::ParcelError> {
                        Ok(Self {
                            soft: parcel.read_i32()?,
                            hard: parcel.read_i32()?,
                        })
                    }
                }
            }
        }
        pub mod Mode {
            #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
            pub struct Mode(pub i8);
            impl Mode {
                pub const SLOW: Mode = Mode(0);
                pub const FAST: Mode = Mode(4);
                /// After FAST.
                pub const TURBO: Mode = Mode(5);
                /// Every declared enumerator, in declaration order.
                pub const fn enumerators() -> &'static [Mode] {
                    &[Mode::SLOW, Mode::FAST, Mode::TURBO]
                }
            }
            impl ::std::fmt::Debug for Mode {
                fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                    match self.0 {
                        0 => f.write_str("SLOW"),
                        4 => f.write_str("FAST"),
                        5 => f.write_str("TURBO"),
                        other => write!(f, "Mode({})", other),
                    }
                }
            }
            impl ::afbus_binder::Parcelable for Mode {
                const MIN_WIRE_SIZE: usize = 1usize;
                fn write_to(&self, parcel: &mut ::afbus_binder::Parcel) {
                    parcel.write_i8(self.0);
                }
                fn read_from(
                    parcel: &mut ::afbus_binder::Parcel,
                ) -> ::std::result::Result<Self, ::afbus_binder::ParcelError> {
                    Ok(Mode(parcel.read_i8()?))
                }
            }
        }
        pub mod Value {
            #[derive(Debug, Clone, PartialEq)]
            pub enum Value {
                number(i64),
                text(::std::string::String),
                blob(::std::vec::Vec<i8>),
            }
            impl ::std::default::Default for Value {
                fn default() -> Self {
                    Self::number(0)
                }
            }
            impl ::afbus_binder::Parcelable for Value {
                fn write_to(&self, parcel: &mut ::afbus_binder::Parcel) {
                    match self {
                        Self::number(value) => {
                            parcel.write_i32(0);
                            parcel.write_i64(*value);
                        }
                        Self::text(value) => {
                            parcel.write_i32(1);
                            parcel.write_str(value);
                        }
                        Self::blob(value) => {
                            parcel.write_i32(2);
                            parcel.write_slice(value);
                        }
                    }
                }
                fn read_from(
                    parcel: &mut ::afbus_binder::Parcel,
                ) -> ::std::result::Result<Self, ::afbus_binder::ParcelError> {
                    let offset = parcel.position();
                    match parcel.read_i32()? {
                        0 => Ok(Self::number(parcel.read_i64()?)),
                        1 => Ok(Self::text(parcel.read_string()?)),
                        2 => Ok(Self::blob(parcel.read_vec::<i8>()?)),
                        _ => {
                            Err(::afbus_binder::ParcelError::InvalidValue {
                                offset,
                                what: "Value tag",
                            })
                        }
                    }
                }
            }
            /// Which member a `Value` holds.
            pub mod Tag {
                /// Which member a `Value` holds.
                #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
                pub struct Tag(pub i32);
                impl Tag {
                    pub const number: Tag = Tag(0);
                    pub const text: Tag = Tag(1);
                    pub const blob: Tag = Tag(2);
                    /// Every declared enumerator, in declaration order.
                    pub const fn enumerators() -> &'static [Tag] {
                        &[Tag::number, Tag::text, Tag::blob]
                    }
                }
                impl ::std::fmt::Debug for Tag {
                    fn fmt(
                        &self,
                        f: &mut ::std::fmt::Formatter<'_>,
                    ) -> ::std::fmt::Result {
                        match self.0 {
                            0 => f.write_str("number"),
                            1 => f.write_str("text"),
                            2 => f.write_str("blob"),
                            other => write!(f, "Tag({})", other),
                        }
                    }
                }
                impl ::afbus_binder::Parcelable for Tag {
                    const MIN_WIRE_SIZE: usize = 4usize;
                    fn write_to(&self, parcel: &mut ::afbus_binder::Parcel) {
                        parcel.write_i32(self.0);
                    }
                    fn read_from(
                        parcel: &mut ::afbus_binder::Parcel,
                    ) -> ::std::result::Result<Self, ::afbus_binder::ParcelError> {
                        Ok(Tag(parcel.read_i32()?))
                    }
                }
            }
        }
    }
}
