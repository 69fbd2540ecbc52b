//! The lifecycle around a resource's own functions: schema-driven plan
//! rules, write-only handling, and checks of Terraform's provider
//! invariants on every plan and apply, so that a resource bug shows as a
//! clear diagnostic naming the attribute instead of Terraform's generic
//! "Provider produced inconsistent result".
use super::diag::{AttrPath, Diagnostics};
use super::resource::{
    Context, DynDataSource, DynEphemeral, DynResource, PlanRequest, UpdateRequest,
};
use super::schema::Schema;
use super::value::{Type, Value};
use std::collections::BTreeMap;

/// Result of planning one resource change.
#[derive(Debug)]
pub struct PlanOutcome {
    pub planned: Value,
    pub requires_replace: Vec<AttrPath>,
    pub diags: Diagnostics,
}

/// Sets every write-only attribute of an object value to null.
pub fn null_write_only(schema: &Schema, v: &mut Value) {
    if let Some(m) = v.attrs_mut() {
        for a in schema.attributes.iter().filter(|a| a.write_only) {
            m.insert(a.name.clone(), Value::Null);
        }
    }
}

/// Replaces unknowns by null (for results returned alongside errors).
fn unknown_to_null(v: Value) -> Value {
    match v {
        Value::Unknown | Value::UnknownPrefix(_) => Value::Null,
        Value::List(a) => Value::List(a.into_iter().map(unknown_to_null).collect()),
        Value::Set(a) => Value::Set(a.into_iter().map(unknown_to_null).collect()),
        Value::Tuple(a) => Value::Tuple(a.into_iter().map(unknown_to_null).collect()),
        Value::Map(m) => Value::Map(
            m.into_iter()
                .map(|(k, x)| (k, unknown_to_null(x)))
                .collect(),
        ),
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, x)| (k, unknown_to_null(x)))
                .collect(),
        ),
        v => v,
    }
}

/// Plans a change: Terraform's proposed new state, adjusted by the schema's
/// rules and then by the resource's own `plan`.
pub async fn plan<D>(
    r: &dyn DynResource<D>,
    schema: &Schema,
    ctx: &Context<D>,
    prior: Value,
    proposed: Value,
    config: Value,
) -> PlanOutcome {
    let ty = schema.ty();
    // Destroy: nothing to plan, but the resource may warn or refuse.
    if proposed.is_null() {
        let diags = if prior.is_null() {
            Diagnostics::new()
        } else {
            r.plan_destroy(ctx, prior).await
        };
        return PlanOutcome {
            planned: Value::Null,
            requires_replace: vec![],
            diags,
        };
    }
    let mut planned = proposed.clone();
    let prior_opt = (!prior.is_null()).then_some(prior.clone());
    let mut requires_replace = Vec::new();
    {
        let changed = match &prior_opt {
            None => true,
            Some(p) => schema
                .attributes
                .iter()
                .filter(|a| !a.write_only)
                .any(|a| proposed.get(&a.name) != p.get(&a.name)),
        };
        let Some(m) = planned.attrs_mut() else {
            let mut diags = Diagnostics::new();
            diags.error(
                "Invalid proposed state",
                "Terraform proposed a value that is not an object for this resource.",
            );
            return PlanOutcome {
                planned: Value::Null,
                requires_replace: vec![],
                diags,
            };
        };
        for a in &schema.attributes {
            if a.write_only {
                m.insert(a.name.clone(), Value::Null);
                continue;
            }
            if a.computed && config.get(&a.name).is_null() && changed {
                let keep = a.use_state_for_unknown && prior_opt.is_some();
                if !keep {
                    m.insert(a.name.clone(), Value::Unknown);
                }
            }
            if a.requires_replace {
                if let Some(p) = &prior_opt {
                    let new = proposed.get(&a.name);
                    if new != p.get(&a.name) {
                        requires_replace.push(AttrPath::attr(a.name.clone()));
                    }
                }
            }
        }
    }
    let before_hook = r.as_model(&planned);
    let mut req = PlanRequest::new(
        prior_opt.clone(),
        config.clone(),
        planned.clone(),
        requires_replace,
    );
    req.config_prefixes = config_unknown_prefixes(&config);
    let out = r.plan(ctx, req).await;
    let mut diags = out.diags;
    let mut planned_by_hook = out.planned;
    if let Some(before_hook) = before_hook {
        keep_untouched_values(&mut planned_by_hook, &before_hook, &planned);
    }
    apply_promised_prefixes(
        &mut planned_by_hook,
        out.promised_prefixes,
        r.type_name(),
        &mut diags,
    );
    let mut planned = planned_by_hook.conform(&ty);
    null_write_only(schema, &mut planned);
    diags.extend(check_plan(schema, &config, &planned));
    PlanOutcome {
        planned,
        requires_replace: out.requires_replace,
        diags,
    }
}

/// The known prefixes of top-level config attributes that are unknown, for
/// [`PlanRequest::config_unknown_prefix`]: a typed model reads them as plain
/// unknowns.
fn config_unknown_prefixes(config: &Value) -> BTreeMap<String, String> {
    match config {
        Value::Object(m) => m
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.unknown_prefix()?.to_string())))
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// Attributes the plan hook left alone keep their exact planned value: the
/// typed model can't hold partly unknown collections or refinements, so
/// its round trip (`before_hook`) may have lost detail of `original`.
fn keep_untouched_values(planned: &mut Value, before_hook: &Value, original: &Value) {
    if let (Some(m), Value::Object(orig)) = (planned.attrs_mut(), original) {
        for (k, v) in m.iter_mut() {
            if before_hook.get(k) == &*v {
                if let Some(o) = orig.get(k) {
                    *v = o.clone();
                }
            }
        }
    }
}

/// Plans each attribute a prefix was promised for as unknown with that
/// prefix (a typed model can't express it).
fn apply_promised_prefixes(
    planned: &mut Value,
    promised: BTreeMap<String, String>,
    type_name: &str,
    diags: &mut Diagnostics,
) {
    for (attr, prefix) in promised {
        match planned.attrs_mut().and_then(|m| m.get_mut(&attr)) {
            Some(v) => *v = Value::unknown_with_prefix(prefix),
            None => diags.error(
                "Provider produced an invalid plan",
                format!(
                    "{type_name} promised a prefix for {attr:?}, which is not an attribute of its schema. This is a bug in the provider."
                ),
            ),
        }
    }
}

/// Terraform's rules for a planned value: a non-computed attribute is
/// planned exactly as configured; an optional+computed attribute set in the
/// config likewise; write-only attributes are null. Like Terraform, the
/// comparison ignores refinements: an unknown matches an unknown whatever
/// prefix either promises.
pub fn check_plan(schema: &Schema, config: &Value, planned: &Value) -> Diagnostics {
    let mut d = Diagnostics::new();
    for a in &schema.attributes {
        let p = planned.get(&a.name);
        let c = config.get(&a.name);
        if a.write_only {
            if !p.is_null() {
                invariant(
                    &mut d,
                    &a.name,
                    "planned a value for a write-only attribute",
                );
            }
            continue;
        }
        let must_match_config = !a.computed || !c.is_null();
        if must_match_config && p.clone().unrefined() != c.clone().unrefined() {
            invariant(
                &mut d,
                &a.name,
                "planned a value that differs from the configuration",
            );
        }
    }
    d
}

/// Terraform's rules for an applied value: wholly known, equal to the plan
/// wherever the plan was known, write-only attributes null.
pub fn check_apply(schema: &Schema, planned: &Value, new: &Value) -> Diagnostics {
    let mut d = Diagnostics::new();
    for a in &schema.attributes {
        let n = new.get(&a.name);
        if a.write_only {
            if !n.is_null() {
                invariant(&mut d, &a.name, "stored a write-only attribute");
            }
            continue;
        }
        if n.contains_unknown() {
            invariant(&mut d, &a.name, "left the value unknown after apply");
            continue;
        }
        let p = planned.get(&a.name);
        if !compatible(p, n) {
            let what = match p.unknown_prefix() {
                Some(prefix) => format!(
                    "returned a value after apply that does not start with the planned prefix {prefix:?}"
                ),
                None => "returned a value after apply that differs from the planned value".into(),
            };
            invariant(&mut d, &a.name, &what);
        }
    }
    d
}

/// Whether `new` keeps every known part of `planned`, prefixes included.
fn compatible(planned: &Value, new: &Value) -> bool {
    match (planned, new) {
        (Value::Unknown, _) => true,
        (Value::UnknownPrefix(p), Value::String(s)) => s.starts_with(p.as_str()),
        (Value::UnknownPrefix(_), _) => false,
        (Value::List(a), Value::List(b)) | (Value::Tuple(a), Value::Tuple(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| compatible(x, y))
        }
        // A set with unknown elements may collapse or grow: nothing to hold.
        (Value::Set(a), Value::Set(_)) if a.iter().any(Value::contains_unknown) => true,
        (Value::Map(a), Value::Map(b)) | (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(k, x)| b.get(k).is_some_and(|y| compatible(x, y)))
        }
        (a, b) => a == b,
    }
}

fn invariant(d: &mut Diagnostics, attr: &str, what: &str) {
    d.error_at(
        AttrPath::attr(attr),
        "Provider produced an invalid result",
        format!(
            "The provider {what} for attribute {attr:?}. This is a bug in the provider; please report it."
        ),
    );
}

/// Applies a planned change: create, update or delete.
pub async fn apply<D>(
    r: &dyn DynResource<D>,
    schema: &Schema,
    ctx: &Context<D>,
    prior: Value,
    planned: Value,
    config: Value,
) -> (Value, Diagnostics) {
    let ty = schema.ty();
    if planned.is_null() {
        let d = r.delete(ctx, prior.clone()).await;
        // A failed delete keeps the object in state.
        return (if d.has_errors() { prior } else { Value::Null }, d);
    }
    let creating = prior.is_null();
    let (res, mut d) = if creating {
        r.create(ctx, planned.clone(), config).await
    } else {
        let req = UpdateRequest {
            prior: prior.clone(),
            planned: planned.clone(),
            config,
        };
        r.update(ctx, req).await
    };
    let Some(new) = res else {
        if !d.has_errors() {
            d.error(
                "Provider returned no result",
                format!(
                    "{} returned neither a new state nor an error.",
                    r.type_name()
                ),
            );
        }
        return (if creating { Value::Null } else { prior }, d);
    };
    let mut new = new.conform(&ty);
    null_write_only(schema, &mut new);
    if d.has_errors() {
        return (unknown_to_null(new), d);
    }
    d.extend(check_apply(schema, &planned, &new));
    if d.has_errors() {
        new = unknown_to_null(new);
    }
    (new, d)
}

/// Refreshes state; `Value::Null` when the object is gone.
pub async fn read<D>(
    r: &dyn DynResource<D>,
    schema: &Schema,
    ctx: &Context<D>,
    state: Value,
) -> (Value, Diagnostics) {
    if state.is_null() {
        return (Value::Null, Diagnostics::new());
    }
    let (res, mut d) = r.read(ctx, state.clone()).await;
    if d.has_errors() {
        return (state, d);
    }
    let mut new = res.map(|v| v.conform(&schema.ty())).unwrap_or(Value::Null);
    null_write_only(schema, &mut new);
    if new.contains_unknown() {
        d.error(
            "Provider produced an invalid result",
            format!(
                "{} returned unknown values from a read. This is a bug in the provider.",
                r.type_name()
            ),
        );
        return (state, d);
    }
    (new, d)
}

/// Builds the imported state from the user's ID.
pub async fn import<D>(
    r: &dyn DynResource<D>,
    schema: &Schema,
    ctx: &Context<D>,
    id: &str,
) -> (Value, Diagnostics) {
    let (res, d) = r.import(ctx, id).await;
    let mut v = res.map(|v| v.conform(&schema.ty())).unwrap_or(Value::Null);
    null_write_only(schema, &mut v);
    (unknown_to_null(v), d)
}

/// Reads a data source; the result keeps the configured arguments.
pub async fn read_data<D>(
    d: &dyn DynDataSource<D>,
    schema: &Schema,
    ctx: &Context<D>,
    config: Value,
) -> (Value, Diagnostics) {
    let (res, mut diags) = d.read(ctx, config.clone()).await;
    let Some(v) = res else {
        return (Value::Null, diags);
    };
    let mut v = v.conform(&schema.ty());
    null_write_only(schema, &mut v);
    if !diags.has_errors() {
        for a in &schema.attributes {
            let (c, n) = (config.get(&a.name), v.get(&a.name));
            if n.contains_unknown() {
                invariant(&mut diags, &a.name, "left the value unknown after a read");
            } else if !a.computed && !a.write_only && c != n {
                invariant(
                    &mut diags,
                    &a.name,
                    "changed a configured argument in a read",
                );
            }
        }
    }
    (unknown_to_null(v), diags)
}

/// Opens an ephemeral resource.
pub async fn open_ephemeral<D>(
    e: &dyn DynEphemeral<D>,
    schema: &Schema,
    ctx: &Context<D>,
    config: Value,
) -> (Value, Diagnostics) {
    let (res, mut diags) = e.open(ctx, config).await;
    let v = res.map(|v| v.conform(&schema.ty())).unwrap_or(Value::Null);
    if v.contains_unknown() && !diags.has_errors() {
        diags.error(
            "Provider produced an invalid result",
            format!(
                "{} returned unknown values when opened. This is a bug in the provider.",
                e.type_name()
            ),
        );
    }
    (unknown_to_null(v), diags)
}

// ------------------------------------------------------------ identity

/// The object type of a resource's identity: its identity attributes with
/// their schema types.
pub fn identity_type(schema: &Schema, attributes: &[&str]) -> Type {
    Type::Object(
        attributes
            .iter()
            .filter_map(|name| schema.attribute(name))
            .map(|a| (a.name.clone(), a.ty.clone()))
            .collect(),
    )
}

/// The identity of a state: its identity attributes. Null for a null state.
pub fn identity_of(attributes: &[&str], state: &Value) -> Value {
    if state.is_null() {
        return Value::Null;
    }
    Value::Object(
        attributes
            .iter()
            .map(|name| (name.to_string(), state.get(name).clone()))
            .collect(),
    )
}

/// Terraform refuses an identity that changes for the same object: an
/// error when `new` differs from a known `before`.
pub fn check_identity(type_name: &str, before: &Value, new: &Value, diags: &mut Diagnostics) {
    if before.is_null() || before.contains_unknown() || new.is_null() || before == new {
        return;
    }
    diags.error(
        "Unexpected identity change",
        format!(
            "The identity of this {type_name} changed from {before:?} to {new:?}. An object's \
             identity never changes; this is a bug in the provider, please report it."
        ),
    );
}

/// The single string an import by identity gives the resource's `import`:
/// the value of its one identity attribute.
pub fn import_id_from_identity(identity: &Value, diags: &mut Diagnostics) -> Option<String> {
    let Value::Object(m) = identity else {
        diags.error(
            "Invalid import identity",
            "The identity to import is not an object.",
        );
        return None;
    };
    match m.values().collect::<Vec<_>>().as_slice() {
        [Value::String(s)] if !s.is_empty() => Some(s.clone()),
        _ => {
            diags.error(
                "Invalid import identity",
                format!(
                    "The identity to import must set its attribute ({}) to a non-empty string.",
                    m.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            );
            None
        }
    }
}

/// The configuration generated for an object from its state (`terraform
/// plan -generate-config-out`, Terraform 1.14+): computed attributes and
/// write-only ones null, then whatever else the resource leaves out.
pub fn generate_config<D>(r: &dyn DynResource<D>, schema: &Schema, state: &Value) -> Value {
    let mut config = unknown_to_null(state.clone());
    if let Some(m) = config.attrs_mut() {
        for a in &schema.attributes {
            if a.write_only || a.computed {
                m.insert(a.name.clone(), Value::Null);
            }
        }
    }
    r.generate_config(config).conform(&schema.ty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model;
    use crate::{Attribute, CreateRequest, Declaration, Resource, UpdateRequest, Val};

    model! {
        struct Thing {
            id: String,
            name: String,
            parent: String,
            etag: String,
            secret_wo: String,
            seen_secret: String,
            parent_prefix_seen: String,
        }
    }

    /// A test resource; `bug` selects a deliberate invariant violation.
    struct T {
        bug: &'static str,
    }

    impl Declaration for T {
        type Model = Thing;
        fn type_name(&self) -> &'static str {
            "test_thing"
        }
        fn schema(&self) -> Schema {
            Schema::new("test")
                .attr(Attribute::string("id").computed().use_state_for_unknown())
                .attr(Attribute::string("name").required())
                .attr(Attribute::string("parent").required().requires_replace())
                .attr(Attribute::string("etag").computed())
                .attr(
                    Attribute::string("secret_wo")
                        .optional()
                        .sensitive()
                        .write_only(),
                )
                .attr(Attribute::string("seen_secret").computed())
                .attr(Attribute::string("parent_prefix_seen").computed())
        }
    }

    impl Resource<()> for T {
        async fn plan(&self, _ctx: &Context<()>, req: &mut PlanRequest<Thing>) {
            if self.bug == "plan_changes_config" {
                req.planned.name = Val::Known("other".into());
            }
            if self.bug == "plan_sets_write_only" {
                req.planned.secret_wo = Val::Known("leak".into());
            }
            req.planned.parent_prefix_seen =
                Val::from_option(req.config_unknown_prefix("parent").map(String::from));
            if req.is_create() && self.bug.starts_with("promise") {
                // The model could claim anything; the promise wins.
                req.planned.id = Val::Known("ignored".into());
                req.promise_prefix("id", "t-");
                req.promise_prefix("etag", "e");
            }
            if self.bug == "promise_missing" {
                req.promise_prefix("nope", "x");
            }
        }
        async fn create(
            &self,
            _ctx: &Context<()>,
            req: CreateRequest<Thing>,
            _d: &mut Diagnostics,
        ) -> Option<Thing> {
            let mut m = req.planned;
            m.id = Val::Known(
                if self.bug == "promise_broken" {
                    "x-1"
                } else {
                    "t-1"
                }
                .into(),
            );
            m.etag = if self.bug == "apply_leaves_unknown" {
                Val::Unknown
            } else {
                Val::Known("e1".into())
            };
            m.seen_secret = seen_secret(&req.config);
            if self.bug == "apply_changes_planned" {
                m.name = Val::Known("renamed".into());
            }
            if self.bug == "promise_broken" {
                m.etag = Val::Null;
            }
            Some(m)
        }
        async fn read(&self, _ctx: &Context<()>, s: Thing, _d: &mut Diagnostics) -> Option<Thing> {
            Some(s)
        }
        async fn update(
            &self,
            _ctx: &Context<()>,
            req: UpdateRequest<Thing>,
            _d: &mut Diagnostics,
        ) -> Option<Thing> {
            let mut m = req.planned;
            m.etag = Val::Known("e2".into());
            m.seen_secret = seen_secret(&req.config);
            Some(m)
        }
        async fn delete(&self, _ctx: &Context<()>, _s: Thing, _d: &mut Diagnostics) {}
    }

    /// What the test resource records of the write-only secret it was given.
    fn seen_secret(config: &Thing) -> Val<String> {
        Val::Known(config.secret_wo.as_deref().unwrap_or("none").to_string())
    }

    fn cfg(name: &str, parent: &str, secret: Option<&str>) -> Value {
        let mut m = Thing {
            name: Val::Known(name.into()),
            parent: Val::Known(parent.into()),
            ..Default::default()
        };
        m.secret_wo = Val::from_option(secret.map(String::from));
        crate::Model::to_value(&m)
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    /// Terraform's proposed new state: config, with prior values for
    /// computed attributes the config leaves null.
    /// Plans creating what `config` describes, from Terraform's proposal.
    fn plan_create(r: &T, s: &Schema, ctx: &Context<()>, config: &Value) -> PlanOutcome {
        let proposal = proposed(s, &Value::Null, config);
        block_on(plan(r, s, ctx, Value::Null, proposal, config.clone()))
    }

    /// Plans changing `state` to what `config` describes.
    fn plan_update(
        r: &T,
        s: &Schema,
        ctx: &Context<()>,
        state: &Value,
        config: &Value,
    ) -> PlanOutcome {
        let proposal = proposed(s, state, config);
        block_on(plan(r, s, ctx, state.clone(), proposal, config.clone()))
    }

    fn proposed(schema: &Schema, prior: &Value, config: &Value) -> Value {
        let mut p = config.clone();
        for a in schema.attributes.iter().filter(|a| a.computed) {
            if config.get(&a.name).is_null() {
                p.attrs_mut()
                    .unwrap()
                    .insert(a.name.clone(), prior.get(&a.name).clone());
            }
        }
        p
    }

    #[test]
    fn create_then_update_follow_the_rules() {
        let r = T { bug: "" };
        let s = Declaration::schema(&r);
        let ctx = Context::<()>::default();
        let config = cfg("a", "p1", Some("s3cret"));
        let out = plan_create(&r, &s, &ctx, &config);
        assert!(out.diags.is_empty(), "{:?}", out.diags);
        assert!(out.planned.get("id").is_unknown() && out.planned.get("etag").is_unknown());
        assert!(
            out.planned.get("secret_wo").is_null(),
            "write-only must be null in the plan"
        );
        let (state, d) = block_on(apply(
            &r,
            &s,
            &ctx,
            Value::Null,
            out.planned,
            config.clone(),
        ));
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(
            state.get("seen_secret"),
            &Value::from("s3cret"),
            "write-only value read from config in apply"
        );
        assert!(
            state.get("secret_wo").is_null(),
            "write-only must be null in state"
        );
        assert!(!state.contains_unknown());

        // No change: plan equals prior state.
        let out = plan_update(&r, &s, &ctx, &state, &config);
        assert_eq!(out.planned, state);
        assert!(out.requires_replace.is_empty());

        // Update in place: id kept (use_state_for_unknown), etag unknown.
        let config2 = cfg("b", "p1", None);
        let out = plan_update(&r, &s, &ctx, &state, &config2);
        assert!(out.diags.is_empty(), "{:?}", out.diags);
        assert_eq!(out.planned.get("id"), &Value::from("t-1"));
        assert!(out.planned.get("etag").is_unknown());
        let (new, d) = block_on(apply(&r, &s, &ctx, state.clone(), out.planned, config2));
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(new.get("etag"), &Value::from("e2"));

        // A requires_replace attribute changes.
        let config3 = cfg("a", "p2", None);
        let out = plan_update(&r, &s, &ctx, &state, &config3);
        assert_eq!(out.requires_replace, vec![AttrPath::attr("parent")]);

        // Destroy.
        let out = block_on(plan(&r, &s, &ctx, state.clone(), Value::Null, Value::Null));
        assert!(out.planned.is_null());
        let (gone, d) = block_on(apply(&r, &s, &ctx, state, Value::Null, Value::Null));
        assert!(gone.is_null() && d.is_empty());
    }

    fn violation(bug: &'static str) -> Diagnostics {
        let r = T { bug };
        let s = Declaration::schema(&r);
        let ctx = Context::<()>::default();
        let config = cfg("a", "p1", Some("x"));
        let out = plan_create(&r, &s, &ctx, &config);
        if out.diags.has_errors() {
            return out.diags;
        }
        block_on(apply(&r, &s, &ctx, Value::Null, out.planned, config)).1
    }

    fn assert_invariant(d: &Diagnostics, attr: &str) {
        assert!(
            d.iter()
                .any(|x| x.summary == "Provider produced an invalid result"
                    && x.path == Some(AttrPath::attr(attr))),
            "expected an invariant error on {attr}: {d:?}"
        );
    }

    #[test]
    fn invariant_violations_are_caught_with_the_attribute_named() {
        assert_invariant(&violation("plan_changes_config"), "name");
        // A write-only value set by a plan hook never reaches Terraform.
        assert!(!violation("plan_sets_write_only").has_errors());
        assert!(
            !check_plan(
                &Declaration::schema(&T { bug: "" }),
                &Value::Null,
                &cfg("a", "p", Some("x"))
            )
            .is_empty()
        );
        assert_invariant(&violation("apply_leaves_unknown"), "etag");
        assert_invariant(&violation("apply_changes_planned"), "name");
        assert!(!violation("").has_errors());
    }

    #[test]
    fn partly_unknown_config_keeps_its_exact_value_in_the_plan() {
        let r = T { bug: "" };
        let s = Declaration::schema(&r);
        let mut config = cfg("a", "p1", None);
        config
            .attrs_mut()
            .unwrap()
            .insert("parent".into(), Value::Unknown);
        let out = plan_create(&r, &s, &Context::<()>::default(), &config);
        assert!(out.diags.is_empty(), "{:?}", out.diags);
        assert!(out.planned.get("parent").is_unknown());
    }

    #[test]
    fn promised_prefix_is_planned_and_held_after_apply() {
        let r = T { bug: "promise" };
        let s = Declaration::schema(&r);
        let ctx = Context::<()>::default();
        let config = cfg("a", "p1", None);
        let out = plan_create(&r, &s, &ctx, &config);
        assert!(out.diags.is_empty(), "{:?}", out.diags);
        assert_eq!(out.planned.get("id"), &Value::unknown_with_prefix("t-"));
        assert_eq!(out.planned.get("etag"), &Value::unknown_with_prefix("e"));
        let (state, d) = block_on(apply(&r, &s, &ctx, Value::Null, out.planned, config));
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(state.get("id"), &Value::from("t-1"));
    }

    #[test]
    fn apply_without_the_promised_prefix_is_an_invariant_violation() {
        let d = violation("promise_broken");
        assert_invariant(&d, "id");
        assert_invariant(&d, "etag");
        assert!(
            d.iter().any(|x| x.detail.contains("planned prefix \"t-\"")),
            "{d:?}"
        );
        let s = Declaration::schema(&T { bug: "" });
        let planned = Value::Object([("id".to_string(), Value::unknown_with_prefix("t-"))].into());
        let with = |id: Value| Value::Object([("id".to_string(), id)].into());
        assert_invariant(&check_apply(&s, &planned, &with(Value::Null)), "id");
        assert_invariant(&check_apply(&s, &planned, &with("t".into())), "id");
        assert!(
            check_apply(&s, &planned, &with("t-".into()))
                .iter()
                .all(|x| x.path != Some(AttrPath::attr("id")))
        );
        // Nested prefixes are held too.
        assert!(!compatible(
            &Value::List(vec![Value::unknown_with_prefix("a")]),
            &Value::List(vec!["b".into()])
        ));
        assert!(compatible(
            &Value::List(vec![Value::unknown_with_prefix("a")]),
            &Value::List(vec!["ab".into()])
        ));
        // Refined unknowns never reach a stored result.
        assert_eq!(
            unknown_to_null(Value::List(vec![Value::unknown_with_prefix("a")])),
            Value::List(vec![Value::Null])
        );
    }

    #[test]
    fn plan_checks_ignore_refinements_like_terraform() {
        let s = Declaration::schema(&T { bug: "" });
        let mut config = cfg("a", "p1", None);
        let mut planned = proposed(&s, &Value::Null, &config);
        // Config refined, plan plain unknown, and the other way round.
        config
            .attrs_mut()
            .unwrap()
            .insert("parent".into(), Value::unknown_with_prefix("org_"));
        planned
            .attrs_mut()
            .unwrap()
            .insert("parent".into(), Value::Unknown);
        assert!(check_plan(&s, &config, &planned).is_empty());
        assert!(check_plan(&s, &planned, &config).is_empty());
        // A refined unknown config passes through planning unchanged.
        let out = plan_create(&T { bug: "" }, &s, &Context::<()>::default(), &config);
        assert!(out.diags.is_empty(), "{:?}", out.diags);
        assert_eq!(
            out.planned.get("parent"),
            &Value::unknown_with_prefix("org_")
        );
        // Still a known value planned for an unknown config is caught.
        planned
            .attrs_mut()
            .unwrap()
            .insert("parent".into(), "org_1".into());
        assert_invariant(&check_plan(&s, &config, &planned), "parent");
    }

    #[test]
    fn plan_hooks_see_what_is_known_of_unknown_config_values() {
        let r = T { bug: "" };
        let s = Declaration::schema(&r);
        for (parent, seen) in [
            (Value::unknown_with_prefix("org_"), Value::from("org_")),
            (Value::Unknown, Value::Null),
            (Value::from("org_1"), Value::Null),
        ] {
            let mut config = cfg("a", "p1", None);
            config
                .attrs_mut()
                .unwrap()
                .insert("parent".into(), parent.clone());
            let out = plan_create(&r, &s, &Context::<()>::default(), &config);
            assert!(out.diags.is_empty(), "{:?}", out.diags);
            assert_eq!(out.planned.get("parent_prefix_seen"), &seen, "{parent:?}");
        }
    }

    #[test]
    fn promising_a_prefix_for_a_missing_attribute_is_reported() {
        let r = T {
            bug: "promise_missing",
        };
        let s = Declaration::schema(&r);
        let config = cfg("a", "p1", None);
        let out = plan_create(&r, &s, &Context::<()>::default(), &config);
        assert!(out.diags.has_errors());
        assert!(out.planned.get("nope").is_null());
    }

    #[test]
    fn identity_is_derived_from_state_and_checked_for_changes() {
        let schema = Declaration::schema(&T { bug: "" });
        let state = Value::Object(
            [
                ("id".to_string(), Value::String("t-1".into())),
                ("name".to_string(), Value::String("n".into())),
            ]
            .into(),
        );
        assert_eq!(
            identity_type(&schema, &["id"]),
            Type::object([("id", Type::String)])
        );
        let identity = identity_of(&["id"], &state);
        assert_eq!(identity.get("id"), &Value::String("t-1".into()));
        assert!(identity_of(&["id"], &Value::Null).is_null());

        let mut d = Diagnostics::new();
        check_identity("test_thing", &identity, &identity, &mut d);
        check_identity("test_thing", &Value::Null, &identity, &mut d);
        assert!(d.is_empty());
        let other = identity_of(&["id"], &cfg("n", "p", None));
        check_identity("test_thing", &identity, &other, &mut d);
        assert!(d.has_errors());

        let mut d = Diagnostics::new();
        assert_eq!(
            import_id_from_identity(&identity, &mut d).as_deref(),
            Some("t-1")
        );
        assert_eq!(import_id_from_identity(&other, &mut d), None);
        assert!(d.has_errors(), "an identity without a known id");
    }

    #[test]
    fn generated_config_leaves_out_computed_and_write_only_values() {
        let r = T { bug: "" };
        let schema = Declaration::schema(&r);
        let mut state = cfg("n", "p", Some("s"));
        if let Some(m) = state.attrs_mut() {
            m.insert("id".into(), Value::String("t-1".into()));
            m.insert("etag".into(), Value::String("e1".into()));
        }
        let config = generate_config::<()>(&r, &schema, &state);
        assert_eq!(config.get("name"), &Value::String("n".into()));
        assert!(config.get("id").is_null() && config.get("etag").is_null());
        assert!(config.get("secret_wo").is_null());
    }
}
