//! The traits a resource, data source or ephemeral resource implements,
//! and the requests they receive.
use super::diag::{AttrPath, Diagnostics};
use super::model::Model;
use super::private::Private;
use super::schema::Schema;
use super::value::Value;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

/// What every operation gets: the provider's own data, as its
/// [`Provider::configure`](crate::Provider::configure) returned it, and for an
/// operation on one resource instance, that instance's [`Private`] state.
pub struct Context<D> {
    data: Option<Arc<D>>,
    private: Mutex<Private>,
}

impl<D> Context<D> {
    /// A context before (or without) ConfigureProvider.
    pub fn unconfigured() -> Self {
        Context {
            data: None,
            private: Mutex::default(),
        }
    }
    /// A context carrying the configured provider's data.
    pub fn configured(data: D) -> Self {
        Context {
            data: Some(Arc::new(data)),
            private: Mutex::default(),
        }
    }
    /// The same provider's context for an operation on one resource
    /// instance, whose private state Terraform sent as `private`.
    pub fn for_instance(&self, private: &[u8]) -> Self {
        Context {
            data: self.data.clone(),
            private: Mutex::new(Private::from_bytes(private)),
        }
    }
    /// The provider's data, or `None` while the provider is not configured
    /// (its configuration is known only after apply, say).
    pub fn data(&self) -> Option<&D> {
        self.data.as_deref()
    }
    /// The provider's data, or an error diagnostic when the provider has
    /// not been configured: for operations that cannot do without it.
    pub fn require_data(&self, diags: &mut Diagnostics) -> Option<&D> {
        if self.data.is_none() {
            diags.error(
                "Provider not configured",
                "The provider was used before Terraform configured it. This is a bug in the provider or Terraform.",
            );
        }
        self.data()
    }
    /// The instance's private state as Terraform sent it: on a read, what
    /// was stored with the state; on a plan, what the prior state carries
    /// (on the second plan of a replacement, what the first one planned);
    /// on an apply, what the plan planned. Empty for a new instance.
    pub fn private(&self) -> Private {
        self.private.lock().map(|p| p.clone()).unwrap_or_default()
    }
    /// Sets what Terraform stores as the instance's private state with the
    /// result of this operation (unchanged unless set).
    pub fn set_private(&self, private: Private) {
        if let Ok(mut p) = self.private.lock() {
            *p = private;
        }
    }
}

impl<D> Default for Context<D> {
    fn default() -> Self {
        Self::unconfigured()
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
    pub(crate) config_prefixes: BTreeMap<String, String>,
    /// Prefixes promised for top-level planned attributes, applied to the
    /// planned value after the hook (a model can't hold them).
    pub(crate) promised_prefixes: BTreeMap<String, String>,
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
    /// through a reference (`parent_id = example_parent.main.id`), so a plan can
    /// check or use it before that resource exists. `None` when the value
    /// is known, null, or unknown without a prefix.
    ///
    /// Terraform may hand on a shorter prefix than was promised: cty drops
    /// a trailing letter or digit (a trailing delimiter such as `_` or `-`
    /// stays) in case later characters combine with it, so `"par_ab1"`
    /// arrives as `"par_ab"`. Match it with `starts_with`, never as a key.
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

impl PlanRequest<Value> {
    /// The request as the resource's typed model sees it; unchanged, with
    /// an error diagnostic, when a value does not fit the model.
    fn typed<M: Model>(self) -> Result<PlanRequest<M>, Box<PlanRequest<Value>>> {
        let mut diags = Diagnostics::new();
        let prior = match &self.prior {
            Some(p) => typed::<M>(p, "prior state", &mut diags).map(Some),
            None => Some(None),
        };
        let config = typed::<M>(&self.config, "configuration", &mut diags);
        let planned = typed::<M>(&self.planned, "planned state", &mut diags);
        let (Some(prior), Some(config), Some(planned)) = (prior, config, planned) else {
            let mut req = self;
            req.diags.extend(diags);
            return Err(Box::new(req));
        };
        Ok(PlanRequest {
            prior,
            config,
            planned,
            requires_replace: self.requires_replace,
            diags: self.diags,
            config_prefixes: self.config_prefixes,
            promised_prefixes: self.promised_prefixes,
        })
    }
}

impl<M: Model> PlanRequest<M> {
    fn untyped(self) -> PlanRequest<Value> {
        PlanRequest {
            prior: self.prior.map(|p| p.to_value()),
            config: self.config.to_value(),
            planned: self.planned.to_value(),
            requires_replace: self.requires_replace,
            diags: self.diags,
            config_prefixes: self.config_prefixes,
            promised_prefixes: self.promised_prefixes,
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

/// Boxed future used by the type-erased views.
pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a type-erased view's function returns: the resulting value, if
/// any, and the diagnostics.
pub type Outcome<'a> = BoxFut<'a, (Option<Value>, Diagnostics)>;

/// What every resource, data source, ephemeral resource, list resource and
/// action declares, whatever it does: its type name, its schema, the typed
/// model its configuration is read as, and offline checks of that
/// configuration. A type implements this and then the trait of its kind.
pub trait Declaration: Send + Sync + 'static {
    /// The configuration (and, for the kinds that have one, the result) as
    /// a typed [`model!`](crate::model!).
    type Model: Model;

    /// E.g. `"example_thing"`: the provider name, an underscore, the kind.
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> Schema;

    /// Offline checks of a configuration (values may be unknown). Attach
    /// each problem to its attribute with `diags.error_at(AttrPath::attr(..), ..)`.
    fn validate(&self, _config: &Self::Model, _diags: &mut Diagnostics) {}
}

/// A managed resource: lifecycle functions on its declared model.
///
/// Results are `Option`s: `None` with an error diagnostic means the
/// operation failed; for `read`, `None` means the object is gone and
/// Terraform drops it from state.
pub trait Resource<D>: Declaration {
    /// Adjusts the plan: mark values unknown, require replacement, add
    /// warnings or errors. Default: the schema's rules only.
    fn plan<'a>(
        &'a self,
        _ctx: &'a Context<D>,
        _req: &'a mut PlanRequest<Self::Model>,
    ) -> impl Future<Output = ()> + Send + 'a {
        async {}
    }

    /// Called when Terraform plans to destroy the resource, with its prior
    /// state: warn the reviewer, or refuse the destroy with an error.
    /// Default: nothing.
    fn plan_destroy<'a>(
        &'a self,
        _ctx: &'a Context<D>,
        _prior: &'a Self::Model,
        _diags: &'a mut Diagnostics,
    ) -> impl Future<Output = ()> + Send + 'a {
        async {}
    }

    fn create<'a>(
        &'a self,
        ctx: &'a Context<D>,
        req: CreateRequest<Self::Model>,
        diags: &'a mut Diagnostics,
    ) -> impl Future<Output = Option<Self::Model>> + Send + 'a;

    fn read<'a>(
        &'a self,
        ctx: &'a Context<D>,
        state: Self::Model,
        diags: &'a mut Diagnostics,
    ) -> impl Future<Output = Option<Self::Model>> + Send + 'a;

    fn update<'a>(
        &'a self,
        ctx: &'a Context<D>,
        req: UpdateRequest<Self::Model>,
        diags: &'a mut Diagnostics,
    ) -> impl Future<Output = Option<Self::Model>> + Send + 'a;

    fn delete<'a>(
        &'a self,
        ctx: &'a Context<D>,
        state: Self::Model,
        diags: &'a mut Diagnostics,
    ) -> impl Future<Output = ()> + Send + 'a;

    /// The top-level state attributes that identify the remote object
    /// (resource identity, Terraform 1.12+), each of them required for an
    /// import by identity. Terraform then stores them next to the state, and
    /// the framework keeps them stable: derived from the state after every
    /// read, apply and import, and checked not to change. Default: none,
    /// the resource has no identity.
    fn identity_attributes(&self) -> &'static [&'static str] {
        &[]
    }

    /// The configuration `terraform plan -generate-config-out` writes for
    /// an imported or listed object (Terraform 1.14+), from its state.
    /// Default: the state without computed and write-only attributes, as
    /// the framework prepares it; a resource may drop more (defaults).
    fn generate_config(&self, config: Self::Model) -> Self::Model {
        config
    }

    /// Builds the state for `terraform import` from the user's ID (or, for
    /// an import by identity, from the identity's single attribute);
    /// Terraform then calls `read` on it. Default: not importable.
    fn import<'a>(
        &'a self,
        _ctx: &'a Context<D>,
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

/// A data source: a read of its declared model.
pub trait DataSource<D>: Declaration {
    /// Reads from the configuration (wholly known) and returns the full
    /// value; computed attributes must all be known.
    fn read<'a>(
        &'a self,
        ctx: &'a Context<D>,
        config: Self::Model,
        diags: &'a mut Diagnostics,
    ) -> impl Future<Output = Option<Self::Model>> + Send + 'a;
}

/// An ephemeral resource (protocol 6.7+): opened during plan and apply,
/// its result never stored.
pub trait EphemeralResource<D>: Declaration {
    fn open<'a>(
        &'a self,
        ctx: &'a Context<D>,
        config: Self::Model,
        diags: &'a mut Diagnostics,
    ) -> impl Future<Output = Option<Self::Model>> + Send + 'a;
}

// ------------------------------------------------------------ type erasure

/// Object-safe view of a [`Declaration`], working on untyped values: what
/// every object-safe view of a kind starts with.
pub trait DynDeclaration: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> Schema;
    /// [`Declaration::validate`] on the configuration read as the model.
    fn validate(&self, config: &Value, diags: &mut Diagnostics);
}

impl<T: Declaration> DynDeclaration for T {
    fn type_name(&self) -> &'static str {
        Declaration::type_name(self)
    }
    fn schema(&self) -> Schema {
        Declaration::schema(self)
    }
    fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        if let Some(m) = typed::<T::Model>(config, "configuration", diags) {
            Declaration::validate(self, &m, diags);
        }
    }
}

/// Object-safe view of a [`Resource`], working on untyped values. The
/// server holds these; `impl<R: Resource>` provides it.
pub trait DynResource<D>: DynDeclaration {
    /// The value as the typed model reads and writes it, `None` when the
    /// model cannot read it. The engine compares the plan hook's result
    /// with it to tell which attributes the hook changed.
    fn as_model(&self, v: &Value) -> Option<Value>;
    fn plan<'a>(
        &'a self,
        ctx: &'a Context<D>,
        req: PlanRequest<Value>,
    ) -> BoxFut<'a, PlanRequest<Value>>;
    fn plan_destroy<'a>(&'a self, ctx: &'a Context<D>, prior: Value) -> BoxFut<'a, Diagnostics>;
    fn create<'a>(&'a self, ctx: &'a Context<D>, planned: Value, config: Value) -> Outcome<'a>;
    fn read<'a>(&'a self, ctx: &'a Context<D>, state: Value) -> Outcome<'a>;
    fn update<'a>(&'a self, ctx: &'a Context<D>, req: UpdateRequest<Value>) -> Outcome<'a>;
    fn delete<'a>(&'a self, ctx: &'a Context<D>, state: Value) -> BoxFut<'a, Diagnostics>;
    fn identity_attributes(&self) -> &'static [&'static str];
    fn generate_config(&self, config: Value) -> Value;
    fn import<'a>(&'a self, ctx: &'a Context<D>, id: &'a str) -> Outcome<'a>;
}

/// The value as the typed model `M`, or an error diagnostic naming `what`.
pub(crate) fn typed<M: Model>(v: &Value, what: &str, diags: &mut Diagnostics) -> Option<M> {
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

/// Runs a typed function on `value` read as its model `M`, with diagnostics
/// of its own: how the views call every function that takes one value.
/// When the value does not fit the model the function does not run, the
/// diagnostics say why (naming `what`) and the result is the default
/// (`None`, nothing listed).
pub(crate) async fn call_typed<M: Model, T: Default>(
    value: Value,
    what: &str,
    call: impl AsyncFnOnce(M, &mut Diagnostics) -> T,
) -> (T, Diagnostics) {
    let mut d = Diagnostics::new();
    let result = match typed::<M>(&value, what, &mut d) {
        Some(m) => call(m, &mut d).await,
        None => T::default(),
    };
    (result, d)
}

/// A typed function's resulting model as the untyped value the views return.
fn untyped<M: Model>(result: Option<M>) -> Option<Value> {
    result.map(|m| m.to_value())
}

impl<D: Send + Sync + 'static, R: Resource<D>> DynResource<D> for R {
    fn as_model(&self, v: &Value) -> Option<Value> {
        R::Model::from_value(v).ok().map(|m| m.to_value())
    }
    fn plan<'a>(
        &'a self,
        ctx: &'a Context<D>,
        req: PlanRequest<Value>,
    ) -> BoxFut<'a, PlanRequest<Value>> {
        Box::pin(async move {
            match req.typed::<R::Model>() {
                Ok(mut typed) => {
                    Resource::<D>::plan(self, ctx, &mut typed).await;
                    typed.untyped()
                }
                Err(req) => *req,
            }
        })
    }
    fn plan_destroy<'a>(&'a self, ctx: &'a Context<D>, prior: Value) -> BoxFut<'a, Diagnostics> {
        Box::pin(async move {
            let call =
                async |prior, d: &mut _| Resource::<D>::plan_destroy(self, ctx, &prior, d).await;
            call_typed::<R::Model, ()>(prior, "prior state", call)
                .await
                .1
        })
    }
    fn create<'a>(&'a self, ctx: &'a Context<D>, planned: Value, config: Value) -> Outcome<'a> {
        Box::pin(async move {
            let mut d = Diagnostics::new();
            let (Some(planned), Some(config)) = (
                typed::<R::Model>(&planned, "planned state", &mut d),
                typed::<R::Model>(&config, "configuration", &mut d),
            ) else {
                return (None, d);
            };
            let r =
                Resource::<D>::create(self, ctx, CreateRequest { planned, config }, &mut d).await;
            (untyped(r), d)
        })
    }
    fn read<'a>(&'a self, ctx: &'a Context<D>, state: Value) -> Outcome<'a> {
        Box::pin(call_typed(state, "state", async |state, d| {
            untyped(Resource::<D>::read(self, ctx, state, d).await)
        }))
    }
    fn update<'a>(&'a self, ctx: &'a Context<D>, req: UpdateRequest<Value>) -> Outcome<'a> {
        Box::pin(async move {
            let mut d = Diagnostics::new();
            let (Some(prior), Some(planned), Some(config)) = (
                typed::<R::Model>(&req.prior, "prior state", &mut d),
                typed::<R::Model>(&req.planned, "planned state", &mut d),
                typed::<R::Model>(&req.config, "configuration", &mut d),
            ) else {
                return (None, d);
            };
            let request = UpdateRequest {
                prior,
                planned,
                config,
            };
            let r = Resource::<D>::update(self, ctx, request, &mut d).await;
            (untyped(r), d)
        })
    }
    fn delete<'a>(&'a self, ctx: &'a Context<D>, state: Value) -> BoxFut<'a, Diagnostics> {
        Box::pin(async move {
            let call = async |state, d: &mut _| Resource::<D>::delete(self, ctx, state, d).await;
            call_typed::<R::Model, ()>(state, "state", call).await.1
        })
    }
    fn identity_attributes(&self) -> &'static [&'static str] {
        Resource::<D>::identity_attributes(self)
    }
    fn generate_config(&self, config: Value) -> Value {
        match R::Model::from_value(&config) {
            Ok(m) => Resource::<D>::generate_config(self, m).to_value(),
            Err(_) => config,
        }
    }
    fn import<'a>(&'a self, ctx: &'a Context<D>, id: &'a str) -> Outcome<'a> {
        Box::pin(async move {
            let mut d = Diagnostics::new();
            let r = Resource::<D>::import(self, ctx, id, &mut d).await;
            (untyped(r), d)
        })
    }
}

/// Object-safe view of a [`DataSource`].
pub trait DynDataSource<D>: DynDeclaration {
    fn read<'a>(&'a self, ctx: &'a Context<D>, config: Value) -> Outcome<'a>;
}

impl<D: Send + Sync + 'static, S: DataSource<D>> DynDataSource<D> for S {
    fn read<'a>(&'a self, ctx: &'a Context<D>, config: Value) -> Outcome<'a> {
        Box::pin(call_typed(config, "configuration", async |config, d| {
            untyped(DataSource::<D>::read(self, ctx, config, d).await)
        }))
    }
}

/// Object-safe view of an [`EphemeralResource`].
pub trait DynEphemeral<D>: DynDeclaration {
    fn open<'a>(&'a self, ctx: &'a Context<D>, config: Value) -> Outcome<'a>;
}

impl<D: Send + Sync + 'static, E: EphemeralResource<D>> DynEphemeral<D> for E {
    fn open<'a>(&'a self, ctx: &'a Context<D>, config: Value) -> Outcome<'a> {
        Box::pin(call_typed(config, "configuration", async |config, d| {
            untyped(EphemeralResource::<D>::open(self, ctx, config, d).await)
        }))
    }
}
