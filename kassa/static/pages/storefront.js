// The demo storefront: a GraphQL client of kassa, signed in as the demo organization's owner
// with the token the page was served with.

import { element, gql, money, showStatus, statusText, subscribe } from "./api.js";
import { BILLING_FIELDS, PLAN_FIELDS, billing } from "./billing.js";
import { authenticate, collectCard, errorText, mountCard } from "./card.js";

const token = document.querySelector('meta[name="kassa-token"]').content;
const $ = (testid) => document.querySelector(`[data-testid="${testid}"]`);
const ask = (query, variables) => gql(query, variables, token);

const PAYMENT_FIELDS = `id purpose status failureMessage createdAt
  amount { amount currency } amountRefunded { amount currency }
  order { reference description } card { brand last4 }`;
const OVERVIEW = `query Storefront {
  viewer { organizations { role organization {
    id name
    wallet(currency: "usd") { balance { amount currency } }
    credits { balance }
    paymentMethods { id isDefault card { brand last4 expMonth expYear } }
    payments(first: 15) { edges { node { ${PAYMENT_FIELDS} } } }
    ${BILLING_FIELDS}
  } } }
  creditPackages { code name credits price { amount currency } }
  creditPlans { ${PLAN_FIELDS} }
}`;
const RESULT = `__typename
  ... on PaymentIntentCreated { clientSecret payment { ${PAYMENT_FIELDS} } }
  ... on UserError { code message }`;
const SETUP = `mutation Setup($input: CreateSetupIntentInput!) { createSetupIntent(input: $input) {
  ... on SetupIntentCreated { clientSecret } ... on UserError { message } } }`;
const TOP_UP = `mutation TopUp($input: TopUpWalletInput!) { topUpWallet(input: $input) { ${RESULT} } }`;
const BUY = `mutation Buy($input: BuyCreditsInput!) { buyCredits(input: $input) { ${RESULT} } }`;
const CHECKOUT = `mutation Checkout($input: StartCheckoutInput!) { startCheckout(input: $input) {
  ... on CheckoutStarted { url } ... on UserError { message } } }`;
const ORDER = `mutation Order($input: CreateOrderInput!) { createOrder(input: $input) {
  ... on OrderCreated { order { id } } ... on UserError { message } } }`;
const REFUND = `mutation Refund($input: RefundPaymentInput!) { refundPayment(input: $input) {
  __typename ... on UserError { message } } }`;
const DEFAULT_CARD = `mutation Default($input: PaymentMethodInput!) {
  setDefaultPaymentMethod(input: $input) { __typename ... on UserError { message } } }`;
const DETACH = `mutation Detach($input: PaymentMethodInput!) {
  detachPaymentMethod(input: $input) { __typename ... on UserError { message } } }`;
const FOLLOW = `subscription Follow($id: ID!) { paymentUpdated(paymentId: $id) { ${PAYMENT_FIELDS} } }`;
const FINAL = ["SUCCEEDED", "FAILED", "CANCELED"];

let organization = null;
let role = null;
let packagesShown = false;
let stopFollowing = () => {};
const cardField = mountCard(document.getElementById("card-element"));
const plans = billing({
  ask, token, cardField, refresh: () => refresh(), setupSecret: (keep) => setupSecret(keep),
  organization: () => organization,
});

async function refresh() {
  const data = await ask(OVERVIEW);
  const membership = data.viewer.organizations[0];
  organization = membership.organization;
  role = membership.role;
  $("wallet-balance").textContent = money(organization.wallet.balance);
  $("credits-balance").textContent = organization.credits.balance.toLocaleString("en-US");
  document.querySelector('[data-field="organization"]').textContent =
    `${organization.name} · ${role}`;
  showCards(organization.paymentMethods);
  showPayments(organization.payments.edges.map((edge) => edge.node));
  if (!packagesShown) showPackages(data.creditPackages);
  plans.show(organization, data.creditPlans);
}

function showPackages(packages) {
  packagesShown = true;
  document.getElementById("packages").replaceChildren(
    ...packages.map((pack) =>
      element(
        "article",
        { class: "package", "data-testid": `package-${pack.code}` },
        element("h3", {}, pack.name),
        element("span", { class: "credits" }, `${pack.credits.toLocaleString("en-US")} credits`),
        element("span", { class: "price" }, money(pack.price)),
        element(
          "div",
          { class: "actions" },
          element("button", { type: "button", class: "button small", "data-testid": "buy-checkout",
            onclick: (event) => buyOnCheckout(pack, event.currentTarget) }, "Checkout"),
          element("button", { type: "button", class: "button small", "data-testid": "buy-card",
            onclick: (event) => buyWithCard(pack, event.currentTarget) }, "Card"),
        ),
      ),
    ),
  );
}

function showCards(cards) {
  document.getElementById("no-cards").hidden = cards.length > 0;
  $("saved-cards").replaceChildren(
    ...cards.map((saved) => {
      const card = saved.card || {};
      const expiry = card.expMonth ? ` · ${String(card.expMonth).padStart(2, "0")}/${card.expYear}` : "";
      return element(
        "li",
        { "data-testid": "saved-card" },
        element("span", { class: "label" }, `${capitalized(card.brand || "card")} •••• ${card.last4 || "????"}${expiry}`),
        saved.isDefault
          ? element("span", { class: "default" }, "default")
          : element("button", { type: "button", class: "button small", "data-testid": "set-default",
              onclick: () => act(DEFAULT_CARD, { paymentMethodId: saved.id }) }, "Make default"),
        element("button", { type: "button", class: "button small", "data-testid": "detach",
          onclick: () => act(DETACH, { paymentMethodId: saved.id }) }, "Remove"),
      );
    }),
  );
}

const PURPOSES = {
  WALLET_TOP_UP: "Wallet top-up", CREDIT_PACKAGE: "Credits", ORDER: "Order", SUBSCRIPTION: "Subscription",
};

function showPayments(payments) {
  const rows = payments.map((payment) => {
    const what = payment.order
      ? `Order · ${payment.order.description || payment.order.reference || ""}`
      : PURPOSES[payment.purpose];
    const refunded = Number(payment.amountRefunded.amount) > 0
      ? ` (refunded ${money(payment.amountRefunded)})` : "";
    const refundable = payment.status === "SUCCEEDED" && role === "owner" &&
      payment.amountRefunded.amount !== payment.amount.amount;
    const status = statusText(payment);
    return element(
      "tr",
      { "data-testid": "payment-row", "data-payment-id": payment.id },
      element("td", { class: "when" }, new Date(payment.createdAt).toLocaleString("en-GB")),
      element("td", {}, what),
      element("td", { class: "num" }, money(payment.amount) + refunded),
      element("td", {}, element("span", { class: `pill pill-${status.split(":")[0]}` }, status)),
      element("td", { class: "num" }, refundable
        ? element("button", { type: "button", class: "button small", "data-testid": "refund",
            onclick: () => refund(payment) }, "Refund")
        : ""),
    );
  });
  if (!rows.length) rows.push(element("tr", { class: "empty" }, element("td", { colspan: "5" }, "No payments yet.")));
  document.getElementById("payment-rows").replaceChildren(...rows);
}

function capitalized(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

async function act(mutation, input) {
  const data = await ask(mutation, { input });
  const answer = Object.values(data)[0];
  if (answer.__typename === "UserError") window.alert(answer.message);
  await refresh();
}

async function refund(payment) {
  const amount = window.prompt(
    `Refund how much of ${money(payment.amount)}? (partial refunds are fine)`,
    payment.amount.amount,
  );
  if (!amount) return;
  await act(REFUND, { paymentId: payment.id, amount: amount.trim() });
}

// Follows one payment live until it is final; each change refreshes the page's figures.
function follow(payment) {
  stopFollowing();
  let final = FINAL.includes(payment.status);
  if (final) return;
  const closed = subscribe(FOLLOW, { id: payment.id }, token, (data) => {
    const now = data.paymentUpdated;
    showStatus($("payment-status"), statusText(now));
    refresh();
    if (FINAL.includes(now.status)) {
      final = true;
      closed();
    }
  }, () => {
    if (!final) window.setTimeout(() => poll(payment.id), 1000);
  });
  stopFollowing = () => { final = true; closed(); };
}

// Without a socket (a proxy that drops them), the same by asking every second.
async function poll(paymentId) {
  const data = await ask(`query P($id: ID!) { payment(id: $id) { ${PAYMENT_FIELDS} } }`, { id: paymentId });
  showStatus($("payment-status"), statusText(data.payment));
  if (FINAL.includes(data.payment.status)) await refresh();
  else window.setTimeout(() => poll(paymentId), 1000);
}

async function setupSecret(keep) {
  const data = await ask(SETUP, { input: { organizationId: organization.id, keepCard: keep } });
  const answer = data.createSetupIntent;
  return answer.clientSecret || { error: answer };
}

// Card → PaymentMethod in the browser, the payment confirmed by kassa on the server, and
// 3-D Secure finished by Stripe.js when kassa answers REQUIRES_ACTION.
async function payByCard(button, mutation, input) {
  const status = $("payment-status");
  button.disabled = true;
  showStatus(status, "PROCESSING");
  try {
    const keep = $("save-card").checked;
    const field = await cardField;
    const collected = await collectCard(field, setupSecret, keep);
    if (collected.error) {
      showStatus(status, `FAILED: ${errorText(collected.error)}`);
      return;
    }
    const data = await ask(mutation, { input: { ...input, paymentMethodId: collected.paymentMethodId } });
    const answer = Object.values(data)[0];
    if (answer.__typename === "UserError") {
      showStatus(status, `FAILED: ${answer.message}`);
      await refresh();
      return;
    }
    showStatus(status, statusText(answer.payment));
    follow(answer.payment);
    await refresh();
    if (answer.payment.status === "REQUIRES_ACTION") {
      const done = await authenticate(field.stripe, answer.clientSecret);
      if (done.error) showStatus(status, `FAILED: ${errorText(done.error)}`);
    }
    if (keep) refreshSoon();
  } catch (failure) {
    showStatus(status, `FAILED: ${errorText(failure)}`);
  } finally {
    button.disabled = false;
  }
}

// A kept card reaches kassa through Stripe's setup_intent.succeeded: look again shortly.
function refreshSoon() {
  for (const delay of [1000, 2500, 5000]) window.setTimeout(refresh, delay);
}

function buyWithCard(pack, button) {
  return payByCard(button, BUY, { organizationId: organization.id, packageCode: pack.code });
}

function checkoutUrls() {
  const origin = window.location.origin;
  return {
    // Stripe fills in the session's id here (and only here).
    successUrl: `${origin}/checkout/success?session_id={CHECKOUT_SESSION_ID}`,
    cancelUrl: `${origin}/checkout/cancel`,
  };
}

async function goToCheckout(input) {
  const data = await ask(CHECKOUT, { input: { ...checkoutUrls(), ...input } });
  const answer = data.startCheckout;
  if (!answer.url) throw new Error(answer.message);
  window.location.assign(answer.url);
}

async function buyOnCheckout(pack, button) {
  button.disabled = true;
  try {
    await goToCheckout({ organizationId: organization.id, creditPackage: pack.code });
  } catch (failure) {
    window.alert(errorText(failure));
    button.disabled = false;
  }
}

document.getElementById("topup-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  await ready;
  const amount = $("topup-amount").value.trim();
  payByCard($("topup-submit"), TOP_UP, { organizationId: organization.id, amount, currency: "usd" });
});

document.getElementById("order-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = $("order-submit");
  const error = document.getElementById("order-error");
  button.disabled = true;
  error.textContent = "";
  try {
    await ready;
    const email = $("order-email").value.trim();
    const data = await ask(ORDER, { input: {
      organizationId: organization.id,
      amount: $("order-amount").value.trim(),
      currency: "usd",
      description: $("order-description").value.trim() || null,
      customerEmail: email || null,
    } });
    const created = data.createOrder;
    if (!created.order) throw new Error(created.message);
    await goToCheckout({ orderId: created.order.id });
  } catch (failure) {
    error.textContent = errorText(failure);
    button.disabled = false;
  }
});

// Forms submitted before the first answer wait for it (they need the organization's id).
const ready = refresh();
// Back from another tab (a retry link paid there): show what changed meanwhile.
window.addEventListener("focus", () => refresh());
