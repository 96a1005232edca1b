"""The sidebar and the view's context: which workspace (recipe), which neuron, which metric.

`sidebar(page)` runs in app.py before the page: it seeds choices from the URL, draws the workspace
and neuron pickers, opens (and if needed precomputes) the workspace, mirrors the choices into the
URL and offers a copyable link. Pages read the result with `current()`. On the Neuron page the
neuron picker and the link are the page's (`neuron_page_top`, inside its st.fragment): a unit
switch then reruns that fragment only.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

import streamlit as st

from neurodash.recipe import Recipe, recipe_fields
from neurodash.stats import metrics as _metrics
from neurodash.ui import loaders, params, pickers
from neurodash.ui.widgets import literal as esc
from neurodash.ui.widgets import guard, progress_callback
from neurodash.workspace import Workspace

CTX = "nd__ctx"
PROBE_SIZE_ENV = "NEURODASH_PROBE_SIZE"  # world probe size of the default workspace (tests, demos)

FIELDS = {f.name: f for f in recipe_fields()}  # the sidebar is built from the Recipe's metadata
RECIPE_FIELDS = list(FIELDS)
INT_FIELDS = {name for name, f in FIELDS.items() if f.metadata.get("widget") == "number"}
URL_ALWAYS = ("model", "layer")  # always in the link; other recipe fields only when not default
VIEW_FIELDS = ("neuron", "metric")
MANAGED = tuple(RECIPE_FIELDS) + VIEW_FIELDS  # the URL keys the sidebar owns


@dataclass
class Context:
    recipe: Recipe
    ws: Workspace
    neuron: int
    metric: str
    page_path: str

    def url_values(self) -> dict[str, object]:
        return url_values(self.recipe, self.neuron, self.metric)

    def link(self, page_path: str | None = None, **override) -> str:
        return params.share_link(page_path or self.page_path, {**self.url_values(), **override})


def default_recipe() -> Recipe:
    """The shapes world; NEURODASH_PROBE_SIZE (an integer) shrinks or grows its probe."""
    base = Recipe.default()
    size = os.environ.get(PROBE_SIZE_ENV)
    if size:
        try:
            base = dataclasses.replace(base, probe_n=int(size))
        except ValueError:
            st.warning(f"{PROBE_SIZE_ENV}={size!r} is not an integer; using {base.probe_n} probe images")
    return base


def url_values(recipe: Recipe, neuron: int | None, metric: str | None) -> dict[str, object]:
    base = default_recipe()
    out = {k: getattr(recipe, k) for k in RECIPE_FIELDS
           if k in URL_ALWAYS or getattr(recipe, k) != getattr(base, k)}
    out["neuron"] = neuron
    out["metric"] = metric
    return out


def current(required: bool = True) -> Context | None:
    """The context the sidebar built for this run; stops the page when required and missing."""
    ctx = st.session_state.get(CTX)
    if ctx is None and required:
        st.info("Choose a workspace in the sidebar (its problem is shown above).")
        st.stop()
    return ctx


def open_neuron(neuron: int, page: str = "views/neuron.py") -> None:
    """Go to a neuron's page (from a table row, a plot point, a search result)."""
    params.request(neuron=int(neuron))
    st.switch_page(page)


def planner_defaults(ctx: Context | None) -> dict:
    """Starting values of the Planner: the workspace's median concept frequency and |C| when known."""
    out = {"freq": 0.05, "alpha": 0.01, "n_concepts": 100}
    if ctx is not None:
        from neurodash import reports

        with guard("Cannot read the workspace's concept frequencies"):
            out.update(reports.planner_starting_point(ctx.ws))
    return out


# --------------------------------------------------------------------------- sidebar


def _coerce(field: str, value):
    if field in INT_FIELDS:
        return int(value)
    if value in ("", "None"):
        return None
    return value


def _options(*groups) -> list:
    out = []
    for g in groups:
        for v in g:
            if v not in (None, "") and v not in out:
                out.append(v)
    return out


def _select(sb, field: str, options: list, *, fallback=None):
    meta = FIELDS[field].metadata
    key = params.state_key(field)
    if st.session_state.get(key) not in options:
        st.session_state[key] = fallback if fallback in options else options[0]
    return sb.selectbox(meta["label"], options, key=key, accept_new_options=not meta["choices"],
                        help=meta["help"])


def _field_widget(sb, field: str, known: list[Recipe]) -> None:
    """The widget a Recipe field's metadata asks for (model and layer are drawn by the caller)."""
    meta = FIELDS[field].metadata
    key = params.state_key(field)
    if pickers.is_path_field(field):  # files and folders: only what the allowed roots hold
        options, labels = pickers.choices(field, st.session_state.get(key))
        if st.session_state.get(key) is None:
            st.session_state[key] = ""
        if st.session_state[key] not in options:
            st.session_state[key] = options[0]
        sb.selectbox(meta["label"], options, key=key, format_func=lambda v: labels.get(v, v),
                     help=meta["help"] + " (listed from the data roots this server allows)")
        return
    if meta["widget"] == "number":
        sb.number_input(meta["label"], min_value=meta["minimum"], step=1, key=key, help=meta["help"])
    elif meta["widget"] == "text":
        if st.session_state.get(key) is None:
            st.session_state[key] = ""
        sb.text_input(meta["label"], key=key, help=meta["help"])
    else:
        _select(sb, field, _options([st.session_state[key]], meta["choices"] or meta["suggestions"],
                                    [getattr(r, field) for r in known]))


def _apply_pending(base: Recipe) -> None:
    """URL values (first run) and requests from pages become widget state before the widgets exist."""
    incoming = {**params.seed_from_url(RECIPE_FIELDS + list(VIEW_FIELDS)), **params.take_requests()}
    for field, value in incoming.items():
        if field in RECIPE_FIELDS:
            if pickers.is_path_field(field) or field == "model":
                value = pickers.url_value(field, str(value))
                if value is None:
                    continue
            try:
                st.session_state[params.state_key(field)] = _coerce(field, value)
            except ValueError:
                st.error(f"The link's {esc(field)}={esc(repr(value))} is not valid; using "
                         f"{esc(repr(getattr(base, field)))}.")
        elif field == "neuron":
            st.session_state["nd__neuron_asked"] = value  # checked against the layer size below
        else:
            st.session_state[params.state_key(field)] = value


def _pick_known(label_to_recipe: dict) -> None:
    """Callback of the 'computed workspaces' picker: copy the chosen recipe into the widgets."""
    chosen = label_to_recipe.get(st.session_state.get("nd__known"))
    if chosen is None:
        return
    for field in RECIPE_FIELDS:
        st.session_state[params.state_key(field)] = getattr(chosen, field)


def _layer_widget(sb, model: str, base: Recipe, known: list[Recipe]) -> None:
    """The layer picker: the model's own layers when they can be listed, else the known ones."""
    val = lambda f: st.session_state[params.state_key(f)]  # noqa: E731
    layers: list[str] = []
    try:
        if pickers.model_allowed(model):  # an open_clip config JSON outside the roots is not read
            layers = loaders.layer_names(model, val("weights"), val("arch"))
    except Exception as err:  # noqa: BLE001 - shown, and the typed/known layer names still work
        st.error(f"Cannot list the layers of {esc(model)}: {esc(err)}")
    same_model = [r.layer for r in known if r.model == model] + ([base.layer] if base.model == model else [])
    options = layers or _options([val("layer")], same_model)
    # a new model keeps no layer of the old one: its default, a computed one, else its last layer
    fallback = next((x for x in same_model if x in options), options[-1] if options else None)
    asked = val("layer")
    if layers and asked and asked not in layers and st.session_state.get("nd__last_model", model) == model:
        st.error(esc(f"{model} has no layer {asked!r}; showing {fallback!r}. Its layers: {', '.join(layers)}."))
    st.session_state["nd__last_model"] = model
    _select(sb, "layer", options, fallback=fallback)


def _recipe_widgets(sb, base: Recipe) -> Recipe:
    for field in RECIPE_FIELDS:  # defaults for a fresh session
        st.session_state.setdefault(params.state_key(field), getattr(base, field))
    known = [r for r in loaders.known_recipes(loaders.home()) if pickers.recipe_allowed(r, say=False)]
    if known:
        labels = {r.label(): r for r in known}
        sb.selectbox("Computed workspaces", list(labels), index=None, key="nd__known",
                     placeholder=f"{len(labels)} on disk: pick one…", on_change=_pick_known, args=(labels,))
    val = lambda f: st.session_state[params.state_key(f)]  # noqa: E731
    model = _select(sb, "model", _options([val("model")], FIELDS["model"].metadata["suggestions"],
                                          [r.model for r in known]))
    _layer_widget(sb, model, base, known)
    basic = [f for f in RECIPE_FIELDS if f not in ("model", "layer") and not FIELDS[f].metadata["advanced"]]
    advanced = [f for f in RECIPE_FIELDS if FIELDS[f].metadata["advanced"]]
    for field in basic:
        if val("probe") == "world" or not FIELDS[field].metadata["world_only"]:
            _field_widget(sb, field, known)
    if sb.toggle("advanced options", key="nd__advanced"):
        for field in advanced:
            if val("probe") == "world" or not FIELDS[field].metadata["world_only"]:
                _field_widget(sb, field, known)
    values = {f: _coerce(f, st.session_state[params.state_key(f)]) for f in RECIPE_FIELDS}
    return Recipe(**values)


def _open_workspace(recipe: Recipe, base: Recipe) -> Workspace | None:
    ws = loaders.workspace(recipe)
    if ws.is_ready():
        return ws
    if ws.stale_reason:
        st.warning(f"The cache of this workspace does not match ({esc(ws.stale_reason)}); it must be recomputed.")
    auto = recipe == base
    if not auto:
        notice = st.empty()
        with notice.container():
            st.info("This workspace is not computed yet:")
            st.text(recipe.label())
            go = st.button("Precompute this workspace", type="primary", key="nd__precompute")
        if not go:
            return None
        notice.empty()
    slot = st.empty()
    box = slot.container(border=True)
    box.subheader("Preparing the workspace")
    box.text(recipe.label())
    box.caption(f"Once per workspace: {'render the probe images, ' if recipe.probe == 'world' else ''}run the model "
                f"over {recipe.probe_n} probe images, keep each unit's activations and top images, and score every "
                "concept by every metric. Later opens read the cache in about a second. The bar says which step "
                "runs and, once the rate is measured, how long is left.")
    bar = box.progress(0.0, text="starting…")
    loaders.build(ws, progress=progress_callback(bar, eta=True))
    slot.empty()
    if not auto:
        st.rerun()  # redraw everything (header, sidebar, URL) from the ready workspace
    return ws


NEURON_KEEP = "nd__neuron_keep"  # survives runs where the neuron widget is not drawn (workspace not ready)
NEURON_PAGE = "neuron"  # its URL path: that page draws the neuron picker itself, inside its fragment


def _resolve_neuron(ws: Workspace) -> int:
    """The neuron this run shows: the one a link or a page asked for when it exists (else a message),
    the session's, or 0; written to the picker's state, which may be drawn later in this run."""
    key = params.state_key("neuron")
    n = ws.n_neurons
    if key not in st.session_state and NEURON_KEEP in st.session_state:
        st.session_state[key] = st.session_state[NEURON_KEEP]
    asked = st.session_state.pop("nd__neuron_asked", None)
    if asked is not None:
        try:
            j = int(asked)
            if not 0 <= j < n:
                raise ValueError
            st.session_state[key] = j
        except (TypeError, ValueError):
            st.error(esc(f"Neuron {asked!r} does not exist in layer {ws.layer} (it has neurons 0…{n - 1}); "
                         f"showing neuron {min(int(st.session_state.get(key, 0) or 0), n - 1)}."))
    j = int(st.session_state.get(key, 0) or 0)
    j = j if 0 <= j < n else 0
    # Written every run, not only when it changed: the picker is a different widget on the Neuron page
    # (drawn by that page's script) and in the sidebar (drawn by app.py), and only a value set through
    # the state carries over from one to the other.
    st.session_state[key] = j
    st.session_state[NEURON_KEEP] = j
    return j


def neuron_picker(box, prev, nxt, ws: Workspace) -> int:
    """The neuron number input in `box` and the previous / next buttons in `prev` / `nxt`; returns the
    neuron chosen. Its state was set by `_resolve_neuron` earlier in the run (or by a step callback)."""
    key = params.state_key("neuron")
    n = ws.n_neurons
    box.number_input(f"Neuron (0…{n - 1})", min_value=0, max_value=n - 1, step=1, key=key)
    j = int(st.session_state[key])
    st.session_state[NEURON_KEEP] = j
    # callbacks run before the next script run, so they may set the number input's state
    prev.button("previous unit", icon=":material/chevron_left:", key="nd__prev", disabled=j <= 0,
                on_click=_step, args=(key, -1, n), width="stretch", shortcut="Alt+P")
    nxt.button("next unit", icon=":material/chevron_right:", key="nd__next", disabled=j >= n - 1,
               on_click=_step, args=(key, 1, n), width="stretch", shortcut="Alt+N")
    return j


def _step(key: str, by: int, n: int) -> None:
    st.session_state[key] = min(max(int(st.session_state.get(key, 0) or 0) + by, 0), n - 1)


def link_popover(where, ctx: Context) -> None:
    """The view's link, copyable. In a popover: its content is drawn only when opened, so a fresh tab
    does not load the code block's syntax highlighter (~1.5 MB of JS, about a second of a shared link's open)."""
    with where.popover("Link to this view", icon=":material/link:", width="stretch"):
        st.caption("The address bar holds the same link. Copy button on the right:")
        st.code(ctx.link(), language=None, wrap_lines=True)


def neuron_page_top() -> Context:
    """The Neuron page's title and picker row (number, previous / next, link), drawn inside the page's
    fragment, so a switch reruns that fragment only, not the sidebar and the app script. Returns the
    run's context for the chosen neuron, mirrored into the URL and the session (other pages read it)."""
    loaders.cancel_prefetch()  # a fragment run starts: it has the interpreter to itself (as in sidebar())
    ctx = current()
    # The picker's state already holds this run's unit (set by the browser, a step callback or
    # _resolve_neuron), so the title comes first and replaces the old one in one step: a placeholder
    # filled later would leave the page without a title while the unit is computed.
    st.header(f"Neuron {int(st.session_state[params.state_key('neuron')])} · {esc(ctx.ws.layer)}")
    box, prev, nxt, link = st.columns([2, 1.3, 1.3, 1.3], vertical_alignment="bottom")
    j = neuron_picker(box, prev, nxt, ctx.ws)
    ctx = dataclasses.replace(ctx, neuron=j)
    params.mirror_to_url(ctx.url_values(), MANAGED)
    st.session_state[CTX] = ctx
    link_popover(link, ctx)
    return ctx


def _concept_search(sb, ws: Workspace, metric_key: str) -> None:
    """Units ranked by their score for the typed concept (not only units whose best concept it is)."""
    # lazy: the concept list (every concept name) is sent only while the expander is open
    box = sb.expander("Find units by concept", key="nd__search_open", on_change="rerun")
    if not box.open:
        return
    with box:
        concept = st.selectbox("Concept", ws.concept_names, index=None, key="nd__search_concept",
                               placeholder="type a concept name…")
        if concept is not None:
            from neurodash import reports

            with guard("Search failed"):
                hits = reports.units_for_concept(ws.metric_matrix(metric_key), ws.concept_names, concept, top=8)
                st.caption(f"Best {metric_key} scores for this concept (★: the unit's own best concept):")
                for row in hits.itertuples():
                    star = " ★" if row.rank_in_unit == 1 else f" (#{row.rank_in_unit} in unit)"
                    st.button(f"neuron {row.neuron} · {metric_key} {row.score:.3f}{star}", key=f"nd__hit_{row.neuron}",
                              on_click=params.request, kwargs={"neuron": int(row.neuron)})


def _show_notices(ws) -> None:
    """What was recovered since the last run (a cached file that failed its checksum and was
    recomputed, a corrupt annotations file set aside), said once, as text."""
    for source in (ws.cache, ws.annotations):
        notices = getattr(source, "notices", None)
        while notices:
            st.warning(esc(notices.pop(0)))


def sidebar(page) -> Context | None:
    """Draw the sidebar, open the workspace, mirror the choices into the URL; returns the context."""
    loaders.cancel_prefetch()  # a run starts: background warm-up steps not begun yet wait for the next request
    st.session_state[CTX] = None
    top = st.sidebar.container()  # neuron, metric, link: filled once the workspace is open
    base = default_recipe()
    _apply_pending(base)
    with guard("Cannot use this workspace"):
        # popovers, not expanders: a closed popover's widgets are not drawn in the browser, so a shared
        # link's first view loads no select-box scripts (~20 files); the widgets still run here every time
        box = st.sidebar.popover("Workspace", icon=":material/tune:", width="stretch")
        recipe = _recipe_widgets(box, base)
        top.caption(esc(recipe.label()))
        sb = top
        metric_key = params.state_key("metric")
        if not pickers.recipe_allowed(recipe):
            params.mirror_to_url(url_values(recipe, None, None), MANAGED)
            return None
        ws = _open_workspace(recipe, base)
        if ws is None:
            params.mirror_to_url(url_values(recipe, st.session_state.get(NEURON_KEEP), None), MANAGED)
            return None
        _show_notices(ws)
        neuron = _resolve_neuron(ws)
        on_neuron_page = page.url_path == NEURON_PAGE
        if not on_neuron_page:  # the Neuron page draws the picker in its fragment (neuron_page_top)
            neuron_picker(sb, sb.container(), sb.container(), ws)  # stacked: the shortcut hints need the width
        metrics = ws.default_metrics() + [m for m in _metrics.METRICS if m not in ws.default_metrics()]
        if st.session_state.get(metric_key) not in metrics:
            st.session_state[metric_key] = metrics[0]
        chooser = sb.popover(f"Metric: {st.session_state[metric_key]}", icon=":material/straighten:", width="stretch",
                             help="The similarity the explanation is chosen by; used for BE, triage and search.")
        metric = chooser.selectbox("Metric (the explanation's)", metrics, key=metric_key)
        _concept_search(sb, ws, metric)
        ctx = Context(recipe=recipe, ws=ws, neuron=neuron, metric=metric, page_path=page.url_path)
        params.mirror_to_url(ctx.url_values(), MANAGED)
        if not on_neuron_page:  # there the link follows the fragment's neuron: the page draws it
            link_popover(sb, ctx)
        st.session_state[CTX] = ctx
        return ctx
    return None
