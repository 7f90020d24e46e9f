// kassa's public API as a page uses it: GraphQL over HTTP, and paymentUpdated over
// graphql-transport-ws on the same /graphql (the bearer token travels in connection_init,
// since a browser cannot set headers on a WebSocket).

export async function gql(query, variables, token) {
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch("/graphql", {
    method: "POST",
    headers,
    body: JSON.stringify({ query, variables: variables || {} }),
  });
  const body = await response.json();
  if (body.errors && body.errors.length) throw new Error(body.errors[0].message);
  return body.data;
}

// Calls onNext(data) for each result; onEnd() once the socket is gone. Returns a closer.
export function subscribe(query, variables, token, onNext, onEnd) {
  const url = `${window.location.origin.replace(/^http/, "ws")}/graphql`;
  const socket = new WebSocket(url, "graphql-transport-ws");
  const send = (message) => socket.send(JSON.stringify(message));
  socket.addEventListener("open", () =>
    send({ type: "connection_init", payload: { Authorization: `Bearer ${token}` } }),
  );
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "connection_ack") {
      send({ id: "1", type: "subscribe", payload: { query, variables } });
    } else if (message.type === "next" && message.payload.data) {
      onNext(message.payload.data);
    } else if (message.type === "ping") {
      send({ type: "pong" });
    } else if (message.type === "complete" || message.type === "error") {
      socket.close();
    }
  });
  socket.addEventListener("close", () => onEnd && onEnd());
  return () => socket.close();
}

export async function getJSON(url) {
  const response = await fetch(url, { cache: "no-store" });
  return { status: response.status, body: await response.json() };
}

export async function postJSON(url, body) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body || {}),
  });
  return { status: response.status, body: await response.json() };
}

export function money(value) {
  return value ? `${value.amount} ${value.currency.toUpperCase()}` : "";
}

// A payment's state as the pages show it: SUCCEEDED, PROCESSING, FAILED: <why> …
export function statusText(payment) {
  if (payment.status === "FAILED") {
    return `FAILED: ${payment.failureMessage || "the card was declined"}`;
  }
  return payment.status;
}

export function showStatus(element, text) {
  element.textContent = text;
  element.className = `pill pill-${text.split(":")[0]}`;
}

// A DOM element with attributes (`onclick` becomes a listener) and children.
export function element(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (name === "onclick") node.addEventListener("click", value);
    else node.setAttribute(name, value);
  }
  node.append(...children);
  return node;
}
