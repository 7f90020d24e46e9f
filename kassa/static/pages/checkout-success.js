// The success page keeps asking kassa (which asks Stripe when its webhook is late) while
// the payment is under way, and shows the new state without a reload.

import { getJSON } from "./api.js";

const HEADLINES = {
  paid: "Thank you — payment received",
  processing: "Payment processing…",
  failed: "The payment failed",
  expired: "This checkout has expired",
};
const NOTES = { paid: "A receipt is on its way by email.", processing: "This page updates by itself." };
const receipt = document.getElementById("receipt");
const field = (name) => receipt.querySelector(`[data-field="${name}"]`);

function show(shown) {
  receipt.dataset.status = shown.status;
  const status = receipt.querySelector('[data-testid="checkout-status"]');
  status.textContent = shown.status;
  status.className = `pill pill-${shown.status}`;
  receipt.querySelector(".seal").className = `seal seal-${shown.status}`;
  field("headline").textContent = HEADLINES[shown.status] || shown.status;
  document.title = `${field("headline").textContent} · kassa`;
  if (field("note")) field("note").textContent = NOTES[shown.status] || "";
  if (field("credits-note")) {
    field("credits-note").textContent = shown.status === "paid" ? "added" : "to be added once paid";
  }
}

async function watch() {
  const url = `/checkout/status?session_id=${encodeURIComponent(receipt.dataset.sessionId)}`;
  try {
    const { body } = await getJSON(url);
    if (body.status !== receipt.dataset.status) show(body);
  } catch (failure) {
    // Offline for a moment: the next round asks again.
  }
  if (receipt.dataset.status === "processing") window.setTimeout(watch, 1000);
}

if (receipt.dataset.status === "processing") window.setTimeout(watch, 1000);
