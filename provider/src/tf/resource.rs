//! The traits a resource, data source or ephemeral resource implements,
//! and the requests they receive.
use super::diag::{AttrPath, Diagnostics};
use super::model::Model;
use super::schema::Schema;
use super::value::Value;
use crate::client::ApiClient;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// What every operation gets: the provider's configured state (set by
/// ConfigureProvider).
#[derive(Clone, Default)]
pub struct Context {
    pub client: Option<Arc<ApiClient>>,
}

impl Context {
    /// The configured API client, or an error diagnostic when the provider
    /// has not been configured.
    pub fn client(&self, diags: &mut Diagnostics) -> Option<&ApiClient> {
        if self.client.is_none() {
            diags.error(
                "Provider not configured",
                "The partner provider was used before Terraform configured it. This is a bug in the provider or Terraform.",
            );
        }
        self.client.as_deref()
    }
}

/// Input of [`Resource::plan`]: what the framework planned already, for the
/// resource to adjust.
///
/// Before `plan` runs, the layer has applied the schema's rules: computed
/// attributes not set in config are unknown on create, and on update too
/// when anything changes (unless `use_state_for_unknown`); write-only
/// attributes are null; `requires_replace` attributes that changed are in
/// `requires_replace`.
pub struct PlanRequest<M> {
    /// Prior state; `None` when creating.
    pub prior: Option<M>,
    /// The configuration (may contain unknowns; write-only values present).
    pub config: M,
    /// The planned new state, to be adjusted.
    pub planned: M,
    /// Attributes whose change forces replacement.
    pub requires_replace: Vec<AttrPath>,
    pub diags: Diagnostics,
    /// Known prefixes of top-level config attributes that are unknown: a
    /// typed model reads them as plain `Val::Unknown`.
    config_prefixes: BTreeMap<String, String>,
    /// Prefixes promised for top-level planned attributes, applied to the
    /// planned value after the hook (a model can't hold them).
    promised_prefixes: BTreeMap<String, String>,
}

impl<M> PlanRequest<M> {
    pub(crate) fn new(
        prior: Option<M>,
        config: M,
        planned: M,
        requires_replace: Vec<AttrPath>,
    ) -> Self {
        PlanRequest {
            prior,
            config,
            planned,
            requires_replace,
            diags: Diagnostics::new(),
            config_prefixes: BTreeMap::new(),
            promised_prefixes: BTreeMap::new(),
        }
    }
    pub fn is_create(&self) -> bool {
        self.prior.is_none()
    }
    /// What is already known of a top-level config attribute that is still
    /// unknown: Terraform passes on another resource's promised prefix
    /// through a reference (`org_id = partner_org.acme.id`), so a plan can
    /// check or use it before that resource exists. `None` when the value
    /// is known, null, or unknown without a prefix.
    ///
    /// Terraform may hand on a shorter prefix than was promised: cty drops
    /// a trailing letter or digit (a trailing delimiter such as `_` or `-`
    /// stays) in case later characters combine with it, so `"org_ab1"`
    /// arrives as `"org_ab"`. Match it with `starts_with`, never as a key.
    pub fn config_unknown_prefix(&self, attribute: &str) -> Option<&str> {
        self.config_prefixes.get(attribute).map(String::as_str)
    }
    /// Plans a top-level attribute as unknown but starting with `prefix`,
    /// so that configurations referring to it can already rely on the
    /// prefix. This overrides what the model's field holds (the model
    /// can't express it). The attribute must be computed and left unset in
    /// the config; after apply it must be a known string with this prefix,
    /// or the layer reports a provider bug. An empty prefix plans a plain
    /// unknown.
    pub fn promise_prefix(&mut self, attribute: &str, prefix: impl Into<String>) {
        self.promised_prefixes
            .insert(attribute.to_string(), prefix.into());
    }
    /// Marks an attribute as forcing replacement (no effect on create).
    pub fn require_replace(&mut self, path: AttrPath) {
        if self.prior.is_some() && !self.requires_replace.contains(&path) {
            self.requires_replace.push(path);
        }
    }
}

/// Input of [`Resource::create`].
pub struct CreateRequest<M> {
    /// The planned state: known values are promises the result must keep.
    pub planned: M,
    /// The configuration; the only place write-only values are found.
    pub config: M,
}

/// Input of [`Resource::update`].
pub struct UpdateRequest<M> {
    pub prior: M,
    pub planned: M,
    pub config: M,
}

/// Boxed future used by the type-erased registry.
pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A managed resource: schema, typed model and lifecycle functions.
///
/// Results are `Option`s: `None` with an error diagnostic means the
/// operation failed; for `read`, `None` means the object is gone and
/// Terraform drops it from state.
pub trait Resource: Send + Sync + 'static {
    type Model: Model;

    /// E.g. `"partner_org"`.
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> Schema;

    /// Offline checks of a configuration (values may be unknown). Attach
    /// each problem to its attribute with `diags.error_at(AttrPath::attr(..), ..)`.
    fn validate(&self, _config: &Self::Model, _diags: &mut Diagnostics) {}

    /// Adjusts the plan: mark values unknown, require replacement, add
    /// warnings or errors. Default: the schema's rules only.
    fn plan<'a>(
        &'a self,
        _ctx: &'a Context,
        _req: &'a mut PlanRequest<Self::Model>,
    ) -> impl Future<Output = ()> + Send + 'a {
        async {}
    }

    fn create<'a>(
        &'a self,
        ctx: &'a Context,
        req: CreateRequest<Self::Model>,
        diags: &'a mut Diagnostics,
    ) -> impl Future<Output = Option<Self::Model>> + Send + 'a;

    fn read<'a>(
        &'a self,
        ctx: &'a Context,
        state: Self::Model,
        diags: &'a mut Diagnostics,
    ) -> impl Future<Output = Option<Self::Model>> + Send + 'a;

    fn update<'a>(
        &'a self,
        ctx: &'a Context,
        req: UpdateRequest<Self::Model>,
        diags: &'a mut Diagnostics,
    ) -> impl Future<Output = Option<Self::Model>> + Send + 'a;

    fn delete<'a>(
        &'a self,
        ctx: &'a Context,
        state: Self::Model,
        diags: &'a mut Diagnostics,
    ) -> impl Future<Output = ()> + Send + 'a;

    /// Builds the state for `terraform import` from the user's ID;
    /// Terraform then calls `read` on it. Default: not importable.
    fn import<'a>(
        &'a self,
        _ctx: &'a Context,
        _id: &'a str,
        diags: &'a mut Diagnostics,
    ) -> impl Future<Output = Option<Self::Model>> + Send + 'a {
        let name = self.type_name();
        async move {
            diags.error(
                "Import not supported",
                format!("{name} cannot be imported."),
            );
            None
        }
    }
}

/// A data source: schema, typed model and read.
pub trait DataSource: Send + Sync + 'static {
    type Model: Model;
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> Schema;
    fn validate(&self, _config: &Self::Model, _diags: &mut Diagnostics) {}
    /// Reads from the configuration (wholly known) and returns the full
    /// value; computed attributes must all be known.
    fn read<'a>(
        &'a self,
        ctx: &'a Context,
        config: Self::Model,
        diags: &'a mut Diagnostics,
    ) -> impl Future<Output = Option<Self::Model>> + Send + 'a;
}

/// An ephemeral resource (protocol 6.7+): opened during plan and apply,
/// its result never stored.
pub trait EphemeralResource: Send + Sync + 'static {
    type Model: Model;
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> Schema;
    fn validate(&self, _config: &Self::Model, _diags: &mut Diagnostics) {}
    fn open<'a>(
        &'a self,
        ctx: &'a Context,
        config: Self::Model,
        diags: &'a mut Diagnostics,
    ) -> impl Future<Output = Option<Self::Model>> + Send + 'a;
}

// ------------------------------------------------------------ type erasure

/// Object-safe view of a [`Resource`], working on untyped values. The
/// server holds these; `impl<R: Resource>` provides it.
pub trait DynResource: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> Schema;
    fn validate(&self, config: &Value, diags: &mut Diagnostics);
    fn plan<'a>(
        &'a self,
        ctx: &'a Context,
        req: PlanRequest<Value>,
    ) -> BoxFut<'a, PlanRequest<Value>>;
    fn create<'a>(
        &'a self,
        ctx: &'a Context,
        planned: Value,
        config: Value,
    ) -> BoxFut<'a, (Option<Value>, Diagnostics)>;
    fn read<'a>(
        &'a self,
        ctx: &'a Context,
        state: Value,
    ) -> BoxFut<'a, (Option<Value>, Diagnostics)>;
    fn update<'a>(
        &'a self,
        ctx: &'a Context,
        prior: Value,
        planned: Value,
        config: Value,
    ) -> BoxFut<'a, (Option<Value>, Diagnostics)>;
    fn delete<'a>(&'a self, ctx: &'a Context, state: Value) -> BoxFut<'a, Diagnostics>;
    fn import<'a>(
        &'a self,
        ctx: &'a Context,
        id: &'a str,
    ) -> BoxFut<'a, (Option<Value>, Diagnostics)>;
}

fn typed<M: Model>(v: &Value, what: &str, diags: &mut Diagnostics) -> Option<M> {
    match M::from_value(v) {
        Ok(m) => Some(m),
        Err(e) => {
            diags.error(
                format!("Invalid {what}"),
                format!("The provider could not read the {what}: {e}"),
            );
            None
        }
    }
}

impl<R: Resource> DynResource for R {
    fn type_name(&self) -> &'static str {
        Resource::type_name(self)
    }
    fn schema(&self) -> Schema {
        Resource::schema(self)
    }
    fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        if let Some(m) = typed::<R::Model>(config, "configuration", diags) {
            Resource::validate(self, &m, diags);
        }
    }
    fn plan<'a>(
        &'a self,
        ctx: &'a Context,
        req: PlanRequest<Value>,
    ) -> BoxFut<'a, PlanRequest<Value>> {
        Box::pin(async move {
            let mut diags = req.diags;
            let prior = match &req.prior {
                Some(p) => typed::<R::Model>(p, "prior state", &mut diags).map(Some),
                None => Some(None),
            };
            let config = typed::<R::Model>(&req.config, "configuration", &mut diags);
            let planned = typed::<R::Model>(&req.planned, "planned state", &mut diags);
            let (Some(prior), Some(config), Some(planned)) = (prior, config, planned) else {
                return PlanRequest { diags, ..req };
            };
            let before = planned.to_value();
            let config_prefixes = match &req.config {
                Value::Object(m) => m
                    .iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.unknown_prefix()?.to_string())))
                    .collect(),
                _ => BTreeMap::new(),
            };
            let mut treq = PlanRequest {
                prior,
                config,
                planned,
                requires_replace: req.requires_replace,
                diags,
                config_prefixes,
                promised_prefixes: req.promised_prefixes,
            };
            Resource::plan(self, ctx, &mut treq).await;
            // Attributes the hook left alone keep their exact value (the
            // typed model can't hold partly unknown collections).
            let mut planned = treq.planned.to_value();
            if let (Some(m), Value::Object(orig)) = (planned.attrs_mut(), &req.planned) {
                for (k, v) in m.iter_mut() {
                    if before.get(k) == &*v {
                        if let Some(o) = orig.get(k) {
                            *v = o.clone();
                        }
                    }
                }
            }
            let mut diags = treq.diags;
            for (attr, prefix) in treq.promised_prefixes {
                match planned.attrs_mut().and_then(|m| m.get_mut(&attr)) {
                    Some(v) => *v = Value::unknown_with_prefix(prefix),
                    None => diags.error(
                        "Provider produced an invalid plan",
                        format!(
                            "{} promised a prefix for {attr:?}, which is not an attribute of its schema. This is a bug in the provider.",
                            Resource::type_name(self)
                        ),
                    ),
                }
            }
            PlanRequest {
                prior: req.prior,
                config: req.config,
                planned,
                requires_replace: treq.requires_replace,
                diags,
                config_prefixes: treq.config_prefixes,
                promised_prefixes: BTreeMap::new(),
            }
        })
    }
    fn create<'a>(
        &'a self,
        ctx: &'a Context,
        planned: Value,
        config: Value,
    ) -> BoxFut<'a, (Option<Value>, Diagnostics)> {
        Box::pin(async move {
            let mut d = Diagnostics::new();
            let (Some(planned), Some(config)) = (
                typed::<R::Model>(&planned, "planned state", &mut d),
                typed::<R::Model>(&config, "configuration", &mut d),
            ) else {
                return (None, d);
            };
            let r = Resource::create(self, ctx, CreateRequest { planned, config }, &mut d).await;
            (r.map(|m| m.to_value()), d)
        })
    }
    fn read<'a>(
        &'a self,
        ctx: &'a Context,
        state: Value,
    ) -> BoxFut<'a, (Option<Value>, Diagnostics)> {
        Box::pin(async move {
            let mut d = Diagnostics::new();
            let Some(state) = typed::<R::Model>(&state, "state", &mut d) else {
                return (None, d);
            };
            let r = Resource::read(self, ctx, state, &mut d).await;
            (r.map(|m| m.to_value()), d)
        })
    }
    fn update<'a>(
        &'a self,
        ctx: &'a Context,
        prior: Value,
        planned: Value,
        config: Value,
    ) -> BoxFut<'a, (Option<Value>, Diagnostics)> {
        Box::pin(async move {
            let mut d = Diagnostics::new();
            let (Some(prior), Some(planned), Some(config)) = (
                typed::<R::Model>(&prior, "prior state", &mut d),
                typed::<R::Model>(&planned, "planned state", &mut d),
                typed::<R::Model>(&config, "configuration", &mut d),
            ) else {
                return (None, d);
            };
            let r = Resource::update(
                self,
                ctx,
                UpdateRequest {
                    prior,
                    planned,
                    config,
                },
                &mut d,
            )
            .await;
            (r.map(|m| m.to_value()), d)
        })
    }
    fn delete<'a>(&'a self, ctx: &'a Context, state: Value) -> BoxFut<'a, Diagnostics> {
        Box::pin(async move {
            let mut d = Diagnostics::new();
            if let Some(state) = typed::<R::Model>(&state, "state", &mut d) {
                Resource::delete(self, ctx, state, &mut d).await;
            }
            d
        })
    }
    fn import<'a>(
        &'a self,
        ctx: &'a Context,
        id: &'a str,
    ) -> BoxFut<'a, (Option<Value>, Diagnostics)> {
        Box::pin(async move {
            let mut d = Diagnostics::new();
            let r = Resource::import(self, ctx, id, &mut d).await;
            (r.map(|m| m.to_value()), d)
        })
    }
}

/// Object-safe view of a [`DataSource`].
pub trait DynDataSource: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> Schema;
    fn validate(&self, config: &Value, diags: &mut Diagnostics);
    fn read<'a>(
        &'a self,
        ctx: &'a Context,
        config: Value,
    ) -> BoxFut<'a, (Option<Value>, Diagnostics)>;
}

impl<D: DataSource> DynDataSource for D {
    fn type_name(&self) -> &'static str {
        DataSource::type_name(self)
    }
    fn schema(&self) -> Schema {
        DataSource::schema(self)
    }
    fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        if let Some(m) = typed::<D::Model>(config, "configuration", diags) {
            DataSource::validate(self, &m, diags);
        }
    }
    fn read<'a>(
        &'a self,
        ctx: &'a Context,
        config: Value,
    ) -> BoxFut<'a, (Option<Value>, Diagnostics)> {
        Box::pin(async move {
            let mut d = Diagnostics::new();
            let Some(config) = typed::<D::Model>(&config, "configuration", &mut d) else {
                return (None, d);
            };
            let r = DataSource::read(self, ctx, config, &mut d).await;
            (r.map(|m| m.to_value()), d)
        })
    }
}

/// Object-safe view of an [`EphemeralResource`].
pub trait DynEphemeral: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> Schema;
    fn validate(&self, config: &Value, diags: &mut Diagnostics);
    fn open<'a>(
        &'a self,
        ctx: &'a Context,
        config: Value,
    ) -> BoxFut<'a, (Option<Value>, Diagnostics)>;
}

impl<E: EphemeralResource> DynEphemeral for E {
    fn type_name(&self) -> &'static str {
        EphemeralResource::type_name(self)
    }
    fn schema(&self) -> Schema {
        EphemeralResource::schema(self)
    }
    fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        if let Some(m) = typed::<E::Model>(config, "configuration", diags) {
            EphemeralResource::validate(self, &m, diags);
        }
    }
    fn open<'a>(
        &'a self,
        ctx: &'a Context,
        config: Value,
    ) -> BoxFut<'a, (Option<Value>, Diagnostics)> {
        Box::pin(async move {
            let mut d = Diagnostics::new();
            let Some(config) = typed::<E::Model>(&config, "configuration", &mut d) else {
                return (None, d);
            };
            let r = EphemeralResource::open(self, ctx, config, &mut d).await;
            (r.map(|m| m.to_value()), d)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model;
    use crate::tf::Val;

    model! {
        struct Client {
            id: String,
            org_id: String,
            org_prefix_seen: String,
        }
    }

    /// Promises an `id` prefix; records what it saw of `org_id`.
    struct C {
        promise: &'static str,
    }

    impl Resource for C {
        type Model = Client;
        fn type_name(&self) -> &'static str {
            "test_client"
        }
        fn schema(&self) -> Schema {
            Schema::new("test")
        }
        async fn plan(&self, _ctx: &Context, req: &mut PlanRequest<Client>) {
            req.planned.org_prefix_seen =
                Val::from_option(req.config_unknown_prefix("org_id").map(String::from));
            // The model could claim anything; the promise wins.
            req.planned.id = Val::Known("ignored".into());
            req.promise_prefix(self.promise, "cli_");
        }
        async fn create(
            &self,
            _: &Context,
            _: CreateRequest<Client>,
            _: &mut Diagnostics,
        ) -> Option<Client> {
            None
        }
        async fn read(&self, _: &Context, s: Client, _: &mut Diagnostics) -> Option<Client> {
            Some(s)
        }
        async fn update(
            &self,
            _: &Context,
            _: UpdateRequest<Client>,
            _: &mut Diagnostics,
        ) -> Option<Client> {
            None
        }
        async fn delete(&self, _: &Context, _: Client, _: &mut Diagnostics) {}
    }

    fn obj(pairs: &[(&str, Value)]) -> Value {
        Value::Object(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    fn dyn_plan(r: &C, config: Value) -> PlanRequest<Value> {
        let planned = obj(&[
            ("id", Value::Unknown),
            ("org_id", config.get("org_id").clone()),
            ("org_prefix_seen", Value::Unknown),
        ]);
        let req = PlanRequest::new(None, config, planned, vec![]);
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(DynResource::plan(r, &Context::default(), req))
    }

    #[test]
    fn plan_request_reads_config_prefixes_and_promises_planned_ones() {
        let r = C { promise: "id" };
        let config = obj(&[
            ("id", Value::Null),
            ("org_id", Value::unknown_with_prefix("org_")),
            ("org_prefix_seen", Value::Null),
        ]);
        let out = dyn_plan(&r, config);
        assert!(out.diags.is_empty(), "{:?}", out.diags);
        assert_eq!(out.planned.get("org_prefix_seen"), &Value::from("org_"));
        assert_eq!(out.planned.get("id"), &Value::unknown_with_prefix("cli_"));
        // Left alone by the hook, the refined config value is kept exactly.
        assert_eq!(
            out.planned.get("org_id"),
            &Value::unknown_with_prefix("org_")
        );

        // Plain unknown, known or null: no prefix.
        for org in [Value::Unknown, Value::from("org_1"), Value::Null] {
            let config = obj(&[("org_id", org.clone())]);
            let out = dyn_plan(&r, config);
            assert!(out.planned.get("org_prefix_seen").is_null(), "{org:?}");
        }
    }

    #[test]
    fn promising_a_prefix_for_a_missing_attribute_is_reported() {
        let out = dyn_plan(&C { promise: "nope" }, obj(&[]));
        assert!(out.diags.has_errors());
        assert!(out.planned.get("nope").is_null());
    }
}
