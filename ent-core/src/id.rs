//! Typed identifiers: UUID v7 newtypes, time ordered so that indexes stay compact and pagination is
//! natural. A `UserId` cannot be passed where a `ClassId` is expected.

/// Declares a typed identifier over a UUID v7.
///
/// ```
/// ent_core::typed_id!(
///     /// A news item.
///     NewsId
/// );
/// let a = NewsId::new();
/// let b = NewsId::new();
/// assert!(a < b, "v7 ids are time ordered");
/// assert_eq!(a, a.to_string().parse().unwrap());
/// ```
#[macro_export]
macro_rules! typed_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub $crate::uuid::Uuid);

        impl $name {
            /// A new identifier (UUID v7: time ordered).
            pub fn new() -> Self {
                $name($crate::uuid::Uuid::now_v7())
            }
            /// The underlying UUID.
            pub fn as_uuid(&self) -> $crate::uuid::Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Display::fmt(&self.0, f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::Error;
            fn from_str(s: &str) -> $crate::Result<Self> {
                s.parse::<$crate::uuid::Uuid>()
                    .map($name)
                    .map_err(|e| $crate::Error::invalid(stringify!($name), e.to_string()))
            }
        }

        impl $crate::schemars::JsonSchema for $name {
            fn inline_schema() -> bool {
                true
            }
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(generator: &mut $crate::schemars::SchemaGenerator) -> $crate::schemars::Schema {
                <$crate::uuid::Uuid as $crate::schemars::JsonSchema>::json_schema(generator)
            }
        }

        impl From<$name> for $crate::storage::Element {
            fn from(id: $name) -> Self {
                $crate::storage::Element::Uuid(id.0)
            }
        }

        impl From<$name> for $crate::storage::Tuple {
            fn from(id: $name) -> Self {
                $crate::storage::Tuple::from(vec![$crate::storage::Element::Uuid(id.0)])
            }
        }
    };
}

typed_id!(
    /// A person's account.
    UserId
);
typed_id!(
    /// A structure (établissement), also identified by its UAI.
    StructureId
);
typed_id!(
    /// A class (division), e.g. `3A`.
    ClassId
);
typed_id!(
    /// A group: teaching, manual or profile group.
    GroupId
);
typed_id!(
    /// A subject (matière).
    SubjectId
);
typed_id!(
    /// A session (a logged-in browser or device).
    SessionId
);
typed_id!(
    /// An event in the outbox.
    EventId
);
typed_id!(
    /// A scheduled job.
    JobId
);
typed_id!(
    /// A role: a named bundle of workflow rights that administrators grant.
    RoleId
);
