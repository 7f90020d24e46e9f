// The card field: Stripe.js from the URL /client-config names (the local Stripe-compatible
// server's in the demo and tests), and the one card path both it and Stripe's own take.
//
// kassa confirms PaymentIntents on the server (topUpWallet / buyCredits / the payment page's
// /confirm with a paymentMethodId). The browser only turns the card into a PaymentMethod,
// and finishes 3-D Secure when the server's answer is requires_action:
//   - a card to keep: confirmCardSetup on the organization's SetupIntent (saves it);
//   - a card for this payment only: createPaymentMethod on Stripe.js; the local Stripe.js
//     cannot create one (its createPaymentMethod does nothing), so there a SetupIntent for
//     no customer collects it instead;
//   - requires_action: handleNextAction on Stripe.js; the local one lacks it, and its
//     confirmCardPayment(clientSecret) shows its 3-D Secure box and finishes the intent.

let loaded;

export function loadStripe() {
  loaded ??= (async () => {
    const config = await (await fetch("/client-config")).json();
    await new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = config.stripeJsUrl;
      script.onload = resolve;
      script.onerror = () => reject(new Error("Stripe.js could not be loaded"));
      document.head.append(script);
    });
    return window.Stripe(config.stripePublishableKey);
  })();
  return loaded;
}

export async function mountCard(container) {
  const stripe = await loadStripe();
  const card = stripe.elements().create("card");
  card.mount(container);
  return { stripe, card };
}

// { paymentMethodId } or { error }; setupSecret(keep) answers a SetupIntent's client secret.
export async function collectCard({ stripe, card }, setupSecret, keep) {
  if (!keep) {
    const made = await stripe.createPaymentMethod({ type: "card", card });
    if (made && made.paymentMethod) return { paymentMethodId: made.paymentMethod.id };
    if (made && made.error) return { error: made.error };
  }
  const secret = await setupSecret(keep);
  if (secret.error) return secret;
  const setup = await stripe.confirmCardSetup(secret, { payment_method: { card } });
  if (setup.error) return { error: setup.error };
  const method = setup.setupIntent.payment_method;
  return { paymentMethodId: typeof method === "string" ? method : method.id };
}

export async function authenticate(stripe, clientSecret) {
  const result = stripe.handleNextAction
    ? await stripe.handleNextAction({ clientSecret })
    : await stripe.confirmCardPayment(clientSecret);
  return result && result.error ? { error: result.error } : {};
}

export function errorText(error) {
  return (error && (error.message || String(error))) || "the card could not be used";
}
