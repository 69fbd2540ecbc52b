//! List resources (protocol 6.10, Terraform 1.14+): `list` blocks of
//! `terraform query`, which find existing objects of a managed resource
//! type so that they can be imported.
use crate::diag::Diagnostics;
use crate::model::Model;
use crate::resource::{BoxFut, Context, typed};
use crate::schema::Schema;
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
pub trait ListResource<D>: Send + Sync + 'static {
    /// The `config` block of the `list` block.
    type Model: Model;
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> Schema;
    /// Offline checks of the `config` block (values may be unknown).
    fn validate(&self, _config: &Self::Model, _diags: &mut Diagnostics) {}
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
pub trait DynListResource<D>: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> Schema;
    fn validate(&self, config: &Value, diags: &mut Diagnostics);
    fn list<'a>(
        &'a self,
        ctx: &'a Context<D>,
        config: Value,
        limit: usize,
    ) -> BoxFut<'a, (Vec<ListItem>, Diagnostics)>;
}

impl<D: Send + Sync + 'static, L: ListResource<D>> DynListResource<D> for L {
    fn type_name(&self) -> &'static str {
        ListResource::<D>::type_name(self)
    }
    fn schema(&self) -> Schema {
        ListResource::<D>::schema(self)
    }
    fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        if let Some(m) = typed::<L::Model>(config, "list configuration", diags) {
            ListResource::<D>::validate(self, &m, diags);
        }
    }
    fn list<'a>(
        &'a self,
        ctx: &'a Context<D>,
        config: Value,
        limit: usize,
    ) -> BoxFut<'a, (Vec<ListItem>, Diagnostics)> {
        Box::pin(async move {
            let mut d = Diagnostics::new();
            let Some(config) = typed::<L::Model>(&config, "list configuration", &mut d) else {
                return (vec![], d);
            };
            let mut items = ListResource::<D>::list(self, ctx, config, limit, &mut d).await;
            items.truncate(limit);
            (items, d)
        })
    }
}
