//! The provider's types by name, each with its schema built once, as the
//! services look them up.
use crate::action::DynAction;
use crate::function::Function;
use crate::list::DynListResource;
use crate::provider::Provider;
use crate::resource::{DynDataSource, DynEphemeral, DynResource};
use crate::schema::Schema;
use std::collections::BTreeMap;
use std::sync::Arc;

pub type ByName<T> = BTreeMap<&'static str, (Arc<T>, Schema)>;

pub struct Catalogue<D> {
    pub provider_schema: Schema,
    pub resources: ByName<dyn DynResource<D>>,
    pub data_sources: ByName<dyn DynDataSource<D>>,
    pub ephemerals: ByName<dyn DynEphemeral<D>>,
    pub lists: ByName<dyn DynListResource<D>>,
    pub actions: ByName<dyn DynAction<D>>,
    pub functions: BTreeMap<&'static str, Function>,
}

impl<D> Catalogue<D> {
    pub fn of<P: Provider<Data = D>>(provider: &P) -> Self {
        Catalogue {
            provider_schema: provider.schema(),
            resources: provider
                .resources()
                .into_iter()
                .map(|r| (r.type_name(), (r.clone(), r.schema())))
                .collect(),
            data_sources: provider
                .data_sources()
                .into_iter()
                .map(|d| (d.type_name(), (d.clone(), d.schema())))
                .collect(),
            ephemerals: provider
                .ephemeral_resources()
                .into_iter()
                .map(|e| (e.type_name(), (e.clone(), e.schema())))
                .collect(),
            lists: provider
                .list_resources()
                .into_iter()
                .map(|l| (l.type_name(), (l.clone(), l.schema())))
                .collect(),
            actions: provider
                .actions()
                .into_iter()
                .map(|a| (a.type_name(), (a.clone(), a.schema())))
                .collect(),
            functions: provider
                .functions()
                .into_iter()
                .map(|f| (f.name, f))
                .collect(),
        }
    }
}
