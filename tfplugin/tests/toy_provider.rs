//! A toy provider on the framework, without a real backend: one resource,
//! `toy_note`, whose ids come from a counter in the provider's own data.
//! It is driven through the engine's plan and apply, as the protocol
//! service drives a real provider's resources.
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tfplugin::{
    Attribute, Context, CreateRequest, Declaration, Diagnostics, DynResource, Model, PlanRequest,
    Provider, Resource, Schema, StopSignal, UpdateRequest, Val, Value, engine, model,
};

/// The toy provider's data: where new notes get their numbers.
#[derive(Default)]
struct Notebook {
    next_id: AtomicU64,
}

struct ToyProvider;

impl Provider for ToyProvider {
    type Data = Notebook;

    fn schema(&self) -> Schema {
        Schema::new("A toy provider.")
    }
    async fn configure(
        &self,
        _config: &Value,
        _stop: StopSignal,
        _diags: &mut Diagnostics,
    ) -> Option<Notebook> {
        Some(Notebook::default())
    }
    fn resources(&self) -> Vec<Arc<dyn DynResource<Notebook>>> {
        vec![Arc::new(Note)]
    }
}

model! {
    struct NoteModel {
        id: String,
        text: String,
        length: i64,
    }
}

/// A note: its text, and its length worked out at plan time.
struct Note;

impl Declaration for Note {
    type Model = NoteModel;

    fn type_name(&self) -> &'static str {
        "toy_note"
    }
    fn schema(&self) -> Schema {
        Schema::new("A note.")
            .attr(
                Attribute::string("id")
                    .computed()
                    .description("The note's id."),
            )
            .attr(
                Attribute::string("text")
                    .required()
                    .description("What it says."),
            )
            .attr(
                Attribute::number("length")
                    .computed()
                    .description("Characters."),
            )
    }
}

impl Resource<Notebook> for Note {
    async fn plan(&self, _ctx: &Context<Notebook>, req: &mut PlanRequest<NoteModel>) {
        if let Some(text) = req.config.text.known() {
            req.planned.length = Val::Known(text.chars().count() as i64);
        }
        if req.is_create() {
            req.promise_prefix("id", "note-");
        }
    }
    async fn create(
        &self,
        ctx: &Context<Notebook>,
        req: CreateRequest<NoteModel>,
        diags: &mut Diagnostics,
    ) -> Option<NoteModel> {
        let notebook = ctx.require_data(diags)?;
        let number = notebook.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        Some(NoteModel {
            id: Val::Known(format!("note-{number}")),
            ..req.planned
        })
    }
    async fn read(
        &self,
        _ctx: &Context<Notebook>,
        state: NoteModel,
        _diags: &mut Diagnostics,
    ) -> Option<NoteModel> {
        Some(state)
    }
    async fn update(
        &self,
        _ctx: &Context<Notebook>,
        req: UpdateRequest<NoteModel>,
        _diags: &mut Diagnostics,
    ) -> Option<NoteModel> {
        Some(req.planned)
    }
    async fn delete(&self, _ctx: &Context<Notebook>, _state: NoteModel, _diags: &mut Diagnostics) {}
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

fn note_config(text: &str) -> Value {
    NoteModel {
        text: Val::Known(text.into()),
        ..NoteModel::default()
    }
    .to_value()
}

#[test]
fn a_toy_provider_plans_and_creates_with_its_own_data() {
    let provider = ToyProvider;
    let (_stop_sender, stop) = tokio::sync::watch::channel(false);
    let mut diags = Diagnostics::new();
    let notebook = block_on(provider.configure(&Value::Null, stop, &mut diags))
        .expect("the toy provider configures");
    let ctx = Context::configured(notebook);
    let resources = provider.resources();
    let note = resources[0].as_ref();
    let schema = note.schema();

    let config = note_config("hello");
    let planned = block_on(engine::plan(
        note,
        &schema,
        &ctx,
        Value::Null,
        config.clone(),
        config.clone(),
    ));
    assert!(planned.diags.is_empty(), "{:?}", planned.diags);
    assert_eq!(planned.planned.get("length"), &Value::from(5));
    assert_eq!(
        planned.planned.get("id"),
        &Value::unknown_with_prefix("note-")
    );

    let (state, diags) = block_on(engine::apply(
        note,
        &schema,
        &ctx,
        Value::Null,
        planned.planned,
        config,
    ));
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(state.get("id"), &Value::from("note-1"));
    assert_eq!(state.get("text"), &Value::from("hello"));
}

#[test]
fn an_unconfigured_toy_provider_cannot_create() {
    let ctx = Context::<Notebook>::unconfigured();
    let schema = Declaration::schema(&Note);
    let config = note_config("hi");
    let planned = block_on(engine::plan(
        &Note,
        &schema,
        &ctx,
        Value::Null,
        config.clone(),
        config.clone(),
    ));
    let (state, diags) = block_on(engine::apply(
        &Note,
        &schema,
        &ctx,
        Value::Null,
        planned.planned,
        config,
    ));
    assert!(diags.has_errors());
    assert!(state.is_null(), "nothing was created: {state:?}");
}
