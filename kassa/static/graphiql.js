// GraphiQL on kassa's /graphql, from the libraries vendored under /static/vendor/.
//
// Queries and mutations go over HTTP with the headers typed into GraphiQL's headers editor.
// A browser cannot set headers on a WebSocket, so subscriptions carry that editor's
// Authorization in graphql-transport-ws's connection_init payload instead, which is where
// kassa looks for it: one socket per Authorization value.

const { React, ReactDOM, GraphiQL } = window;

const url = window.location.origin + window.location.pathname;
const subscriptionUrl = url.replace(/^http/, "ws");
const fetchers = new Map();

function authorization(headers) {
  for (const [name, value] of Object.entries(headers || {})) {
    if (name.toLowerCase() === "authorization") return String(value);
  }
  return "";
}

function fetcherFor(auth) {
  if (!fetchers.has(auth)) {
    fetchers.set(
      auth,
      GraphiQL.createFetcher({
        url,
        subscriptionUrl,
        wsConnectionParams: auth ? { Authorization: auth } : undefined,
      }),
    );
  }
  return fetchers.get(auth);
}

function fetcher(params, options) {
  return fetcherFor(authorization(options && options.headers))(params, options);
}

// A query can be shared as a link: ?query=…&variables=… (kept up to date while editing).
const shared = new URLSearchParams(window.location.search);

function share(name, value) {
  if (value) shared.set(name, value);
  else shared.delete(name);
  const search = shared.toString();
  window.history.replaceState(null, "", search ? `?${search}` : window.location.pathname);
}

const root = ReactDOM.createRoot(document.getElementById("graphiql"));
root.render(
  React.createElement(GraphiQL, {
    fetcher,
    defaultQuery: "# Run with Ctrl-Enter.\n{\n  creditPackages {\n    code\n    credits\n  }\n}\n",
    query: shared.get("query") || undefined,
    variables: shared.get("variables") || undefined,
    onEditQuery: (query) => share("query", query),
    onEditVariables: (variables) => share("variables", variables),
    defaultEditorToolsVisibility: true,
    isHeadersEditorEnabled: true,
    // A bearer token typed into the headers editor stays in this tab, not in localStorage.
    shouldPersistHeaders: false,
    inputValueDeprecation: true,
  }),
);
