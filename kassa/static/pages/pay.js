// The payment page behind a signed link: the card becomes a PaymentMethod in the browser,
// kassa confirms the payment on the server, Stripe.js finishes 3-D Secure if asked.

import { getJSON, postJSON, showStatus } from "./api.js";
import { authenticate, collectCard, errorText, mountCard } from "./card.js";

const base = window.location.pathname.replace(/\/$/, "");
const form = document.getElementById("pay-form");
const button = form.querySelector('[data-testid="pay-submit"]');
const status = form.querySelector('[data-testid="pay-status"]');
const FINAL = ["SUCCEEDED", "CANCELED"];
const cardField = mountCard(document.getElementById("card-element"));
showStatus(status, status.textContent.trim());

async function setupSecret() {
  const { body } = await postJSON(`${base}/setup`);
  return body.clientSecret || { error: body.error };
}

function done(text) {
  showStatus(status, text);
  if (FINAL.includes(text)) {
    button.hidden = true;
    document.getElementById("card-element").hidden = true;
    form.querySelector('label[for="card-element"]').hidden = true;
  }
}

async function watch() {
  const { body } = await getJSON(`${base}/status`);
  if (body.status) done(body.status);
  if (body.status && !FINAL.includes(body.status) && !body.status.startsWith("FAILED")) {
    window.setTimeout(watch, 1000);
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  button.disabled = true;
  showStatus(status, "PROCESSING");
  try {
    const field = await cardField;
    const collected = await collectCard(field, setupSecret, false);
    if (collected.error) {
      showStatus(status, `FAILED: ${errorText(collected.error)}`);
      return;
    }
    const { body } = await postJSON(`${base}/confirm`, { paymentMethodId: collected.paymentMethodId });
    if (body.error && !body.status) {
      showStatus(status, `FAILED: ${body.error.message}`);
      return;
    }
    done(body.status);
    if (body.clientSecret) {
      const authenticated = await authenticate(field.stripe, body.clientSecret);
      if (authenticated.error) showStatus(status, `FAILED: ${errorText(authenticated.error)}`);
    }
    if (!FINAL.includes(body.status) && !body.status.startsWith("FAILED")) watch();
  } catch (failure) {
    showStatus(status, `FAILED: ${errorText(failure)}`);
  } finally {
    button.disabled = false;
  }
});
