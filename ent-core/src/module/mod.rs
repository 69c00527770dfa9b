//! The module SDK: what a module declares ([`Manifest`]), the trait it implements ([`ServiceModule`]),
//! its actions ([`Action`]) and the context they run in ([`Context`]), and the [`Registry`] that the
//! assembly builds from the modules it is given.
//!
//! The module author's guide is `docs/sdk.md`.

pub mod action;
pub mod context;
pub mod installed;
pub mod manifest;
pub mod registry;
pub mod service;
pub mod validation;

pub use action::{Action, DynAction};
pub use context::Context;
pub use manifest::{
    ActionDecl, AssetDecl, CORE_VERSION, CatalogueDecl, CollectionDecl, EventDecl, IcalFeedDecl, JobDecl, Label,
    ListenDecl, Manifest, NavDecl, NotificationDecl, PageDecl, Requirement, RightDecl, SettingDecl, WebDecl,
    WidgetDecl, label, schema_of,
};
pub use registry::Registry;
pub use service::{Handlers, Migration, ServiceModule};
