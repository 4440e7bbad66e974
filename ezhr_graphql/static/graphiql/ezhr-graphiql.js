// Starts GraphiQL on the page /graphql serves to browsers.
//
// Queries and mutations are POSTed to the page's own URL; subscriptions run over a
// graphql-transport-ws websocket on the same path. The JSON in GraphiQL's Headers tab,
// e.g. {"Authorization": "Bearer <token>"}, goes with every HTTP request and is the
// websocket's connection_init payload, which the server reads the same way.
(function () {
  "use strict";

  var page = new URL(window.location.href);
  var httpUrl = page.origin + page.pathname;
  var wsUrl = (page.protocol === "https:" ? "wss://" : "ws://") + page.host + page.pathname;

  var DEFAULT_QUERY = [
    "# Sign in, then put the token in the Headers tab below:",
    '#   {"Authorization": "Bearer <token>"}',
    "# It goes with every request, and with subscriptions over the websocket.",
    "# Then try: query { viewer { email role } }",
    "",
    "mutation Login {",
    '  login(email: "admin@example.com", password: "admin-password") {',
    "    __typename",
    "    ... on AuthPayload { token expiresAt user { email role } }",
    "    ... on InvalidCredentials { message }",
    "  }",
    "}",
    "",
  ].join("\n");

  // A websocket client authenticates once, when it connects: a change of headers
  // gets a new client (the previous one closes when its subscriptions end).
  var current = { key: null, fetcher: null };

  function fetcherFor(headers) {
    var key = JSON.stringify(headers || {});
    if (current.key !== key) {
      current = {
        key: key,
        fetcher: GraphiQL.createFetcher({
          url: httpUrl,
          subscriptionUrl: wsUrl,
          wsConnectionParams: headers || {},
        }),
      };
    }
    return current.fetcher;
  }

  function fetcher(params, options) {
    return fetcherFor(options && options.headers)(params, options);
  }

  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: DEFAULT_QUERY,
      defaultEditorToolsVisibility: "headers",
    })
  );
})();
