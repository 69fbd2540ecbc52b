//! List resources (protocol 6.10, Terraform 1.14+): `list` blocks of
//! `terraform query`, which find existing objects of a managed resource
//! type so that they can be imported.
use crate::diag::Diagnostics;
use crate::resource::{BoxFut, Context, Declaration, DynDeclaration, call_typed};
use crate::value::Value;
use std::future::Future;

/// One object found: its state as the managed resource of the same type
/// name would store it (the framework derives the identity from it) and
/// the name `terraform query` shows for it.
#[derive(Clone, Debug, PartialEq)]
pub struct ListItem {
    pub display_name: String,
    pub state: Value,
}

/// A list resource. Its type name is the managed resource's it lists, and
/// that resource must have an identity.
/// Its declared model is the `config` block of the `list` block.
pub trait ListResource<D>: Declaration {
    /// Every object the configuration matches, at most `limit` of them.
    fn list<'a>(
        &'a self,
        ctx: &'a Context<D>,
        config: Self::Model,
        limit: usize,
        diags: &'a mut Diagnostics,
    ) -> impl Future<Output = Vec<ListItem>> + Send + 'a;
}

/// Object-safe view of a [`ListResource`].
pub trait DynListResource<D>: DynDeclaration {
    fn list<'a>(
        &'a self,
        ctx: &'a Context<D>,
        config: Value,
        limit: usize,
    ) -> BoxFut<'a, (Vec<ListItem>, Diagnostics)>;
}

impl<D: Send + Sync + 'static, L: ListResource<D>> DynListResource<D> for L {
    fn list<'a>(
        &'a self,
        ctx: &'a Context<D>,
        config: Value,
        limit: usize,
    ) -> BoxFut<'a, (Vec<ListItem>, Diagnostics)> {
        Box::pin(call_typed(
            config,
            "list configuration",
            async move |config, d| {
                let mut items = ListResource::<D>::list(self, ctx, config, limit, d).await;
                items.truncate(limit);
                items
            },
        ))
    }
}
