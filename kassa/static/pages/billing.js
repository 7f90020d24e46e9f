// The storefront's recurring side: plans to subscribe to, the organization's subscriptions,
// and its invoices (PDFs fetched with the page's token and saved under their number).

import { element, money, showStatus } from "./api.js";
import { authenticate, collectCard, errorText } from "./card.js";

export const PLAN_FIELDS = "code name credits interval price { amount currency }";
export const BILLING_FIELDS = `
  subscriptions { id status currentPeriodEnd cancelAtPeriodEnd plan { ${PLAN_FIELDS} } }
  invoices(first: 20) { edges { node { id number status createdAt total { amount currency } pdfUrl } } }`;
const CHANGED = `__typename
  ... on SubscriptionChanged { clientSecret subscription { id status } }
  ... on UserError { code message }`;
const SUBSCRIBE = `mutation Subscribe($input: SubscribeToPlanInput!) { subscribeToPlan(input: $input) { ${CHANGED} } }`;
const CANCEL = `mutation Cancel($input: CancelSubscriptionInput!) { cancelSubscription(input: $input) { ${CHANGED} } }`;
// Stripe bills these again; the page looks again until none is waiting.
const WAITING = ["INCOMPLETE", "PAST_DUE"];
const EVERY = { MONTH: "month", YEAR: "year" };

const $ = (testid) => document.querySelector(`[data-testid="${testid}"]`);
const day = (iso) => (iso ? new Date(iso).toLocaleDateString("en-GB", { day: "numeric", month: "short", year: "numeric" }) : "—");

// `shop` is what the storefront shares: ask(query, variables), refresh(), cardField,
// setupSecret(keep), organization() and token.
export function billing(shop) {
  let watching = 0;
  let lookingAgain = 0;
  let shown = null;

  // Refresh every second for a while: Stripe's events reach kassa a moment after the click.
  function watch(seconds = 15) {
    const until = Date.now() + seconds * 1000;
    if (watching) { watching = Math.max(watching, until); return; }
    watching = until;
    const tick = async () => {
      await shop.refresh();
      if (Date.now() < watching) window.setTimeout(tick, 1000);
      else watching = 0;
    };
    window.setTimeout(tick, 1000);
  }

  async function subscribeTo(plan, button) {
    const status = $("plan-status");
    const organization = shop.organization();
    button.disabled = true;
    showStatus(status, "PROCESSING");
    try {
      let field = null;
      let paymentMethodId = null;
      if (!organization.paymentMethods.some((card) => card.isDefault)) {
        // Renewals charge the same card: it is kept with the organization's customer.
        field = await shop.cardField;
        const collected = await collectCard(field, shop.setupSecret, true);
        if (collected.error) {
          showStatus(status, `FAILED: ${errorText(collected.error)}`);
          return;
        }
        paymentMethodId = collected.paymentMethodId;
      }
      const data = await shop.ask(SUBSCRIBE, { input: {
        organizationId: organization.id, planCode: plan.code, paymentMethodId,
      } });
      const answer = data.subscribeToPlan;
      if (answer.__typename === "UserError") {
        showStatus(status, `FAILED: ${answer.message}`);
        return;
      }
      if (answer.clientSecret) {
        // The first invoice waits for 3-D Secure (or, on Stripe, for a card in the browser).
        field ??= await shop.cardField;
        const done = await authenticate(field.stripe, answer.clientSecret);
        if (done.error) {
          showStatus(status, `FAILED: ${errorText(done.error)}`);
          return;
        }
      }
      showStatus(status, answer.subscription.status);
      watch();
    } catch (failure) {
      showStatus(status, `FAILED: ${errorText(failure)}`);
    } finally {
      button.disabled = false;
      await shop.refresh();
    }
  }

  async function cancel(subscription, button) {
    if (!window.confirm(`Cancel ${subscription.plan.name} at the end of the period paid for?`)) return;
    button.disabled = true;
    const data = await shop.ask(CANCEL, { input: { subscriptionId: subscription.id } });
    const answer = data.cancelSubscription;
    if (answer.__typename === "UserError") window.alert(answer.message);
    await shop.refresh();
  }

  function showPlans(plans) {
    document.getElementById("plans").replaceChildren(
      ...plans.map((plan) =>
        element(
          "article",
          { class: "package", "data-testid": `plan-${plan.code}` },
          element("h3", { lang: "zh-Hans-CN" }, plan.name),
          element("span", { class: "credits" }, `${plan.credits.toLocaleString("en-US")} credits`),
          element("span", { class: "price" }, `${money(plan.price)} / ${EVERY[plan.interval] || plan.interval.toLowerCase()}`),
          element(
            "div",
            { class: "actions" },
            element("button", { type: "button", class: "button small", "data-testid": "subscribe",
              onclick: (event) => subscribeTo(plan, event.currentTarget) }, "Subscribe"),
          ),
        ),
      ),
    );
  }

  function showSubscriptions(subscriptions, demo) {
    const rows = subscriptions.map((subscription) => {
      const live = ["ACTIVE", "PAST_DUE", "INCOMPLETE"].includes(subscription.status);
      const renewable = demo && ["ACTIVE", "PAST_DUE"].includes(subscription.status);
      // An ended subscription's date is when it ended: nothing is left to cancel then.
      const ends = live && subscription.cancelAtPeriodEnd
        ? element("span", {}, day(subscription.currentPeriodEnd), " ",
            element("span", { class: "pill pill-CANCELED", "data-testid": "cancel-at-period-end" }, "cancels then"))
        : day(subscription.currentPeriodEnd);
      return element(
        "tr",
        { "data-testid": "subscription-row", "data-subscription-id": subscription.id },
        element("td", { lang: "zh-Hans-CN" }, subscription.plan.name,
          element("span", { class: "muted" }, ` · ${subscription.plan.credits.toLocaleString("en-US")} credits / ${EVERY[subscription.plan.interval] || ""}`)),
        element("td", {}, element("span", { class: `pill pill-${subscription.status}`, "data-testid": "subscription-status" }, subscription.status)),
        element("td", { class: "when", "data-label": "Period ends" }, ends),
        element("td", { class: "num actions-cell" },
          renewable ? element("button", { type: "button", class: "button small", "data-testid": "simulate-renewal",
            onclick: (event) => renew(subscription, "paid", event.currentTarget) }, "Renew now") : "",
          renewable ? element("button", { type: "button", class: "button small", "data-testid": "simulate-declined-renewal",
            onclick: (event) => renew(subscription, "declined", event.currentTarget) }, "Renew, declined") : "",
          live && !subscription.cancelAtPeriodEnd
            ? element("button", { type: "button", class: "button small", "data-testid": "cancel-subscription",
                onclick: (event) => cancel(subscription, event.currentTarget) }, "Cancel")
            : ""),
      );
    });
    if (!rows.length) rows.push(element("tr", { class: "empty" }, element("td", { colspan: "4" }, "No subscriptions yet.")));
    document.getElementById("subscription-rows").replaceChildren(...rows);
    document.getElementById("renewal-hint").hidden =
      !demo || !subscriptions.some((subscription) => ["ACTIVE", "PAST_DUE"].includes(subscription.status));
    // Paid elsewhere (on the retry link's page): this page sees it without a reload.
    if (!lookingAgain && subscriptions.some((subscription) => WAITING.includes(subscription.status))) {
      lookingAgain = window.setTimeout(() => { lookingAgain = 0; shop.refresh(); }, 3000);
    }
  }

  // Demo only: the local Stripe server's stand-in for a period ending (kassa/demo/renewals.py).
  async function renew(subscription, outcome, button) {
    button.disabled = true;
    try {
      const response = await fetch(`${localStripeServer()}/_config/subscriptions/${subscription.id}/renew`, {
        method: "POST",
        body: new URLSearchParams({ outcome }),
      });
      if (!response.ok) {
        const body = await response.json().catch(() => ({}));
        window.alert((body.error && body.error.message) || `renewal refused (${response.status})`);
      }
      watch();
    } finally {
      button.disabled = false;
    }
  }

  function showInvoices(invoices) {
    const rows = invoices.map((invoice) =>
      element(
        "tr",
        { "data-testid": "invoice-row", "data-invoice-id": invoice.id },
        element("td", { class: "number" }, invoice.number),
        element("td", { class: "when" }, day(invoice.createdAt)),
        element("td", { class: "num" }, money(invoice.total)),
        element("td", {}, element("span", { class: `pill pill-${invoice.status}` }, invoice.status.replace("_", " "))),
        element("td", { class: "num actions-cell" },
          element("button", { type: "button", class: "button small", "data-testid": "download-invoice",
            onclick: (event) => download(invoice, event.currentTarget) }, "PDF")),
      ),
    );
    if (!rows.length) rows.push(element("tr", { class: "empty" }, element("td", { colspan: "5" }, "No invoices yet.")));
    document.getElementById("invoice-rows").replaceChildren(...rows);
  }

  // The PDF needs the token, which a plain link cannot send: fetched, then saved from a blob.
  async function download(invoice, button) {
    button.disabled = true;
    try {
      const response = await fetch(invoice.pdfUrl, { headers: { Authorization: `Bearer ${shop.token}` } });
      if (!response.ok) throw new Error(`the invoice could not be fetched (${response.status})`);
      const url = URL.createObjectURL(await response.blob());
      const link = element("a", { href: url, download: `${invoice.number}.pdf`, hidden: "" });
      document.body.append(link);
      link.click();
      link.remove();
      window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (failure) {
      window.alert(errorText(failure));
    } finally {
      button.disabled = false;
    }
  }

  // The demo's renewal buttons show once the local Stripe.js has loaded.
  shop.cardField.then(() => shown && showSubscriptions(shown, localStripeServer() !== null));

  let plansShown = false;
  return {
    show(organization, plans) {
      if (!plansShown && plans) {
        plansShown = true;
        showPlans(plans);
      }
      shown = organization.subscriptions;
      showSubscriptions(shown, localStripeServer() !== null);
      showInvoices(organization.invoices.edges.map((edge) => edge.node));
    },
  };
}

// The local Stripe.js names the server it belongs to; Stripe's own does not exist offline.
function localStripeServer() {
  // eslint-disable-next-line no-undef
  return typeof LOCALSTRIPE_BASE_API === "string" ? LOCALSTRIPE_BASE_API : null;
}
