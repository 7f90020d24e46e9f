// "Go back" returns to the page that sent the customer to Checkout.
const back = document.getElementById("back");
if (back) {
  back.addEventListener("click", () => {
    // Two steps: past Stripe Checkout's page, to the shop that opened it.
    if (window.history.length > 2) window.history.go(-2);
    else window.history.back();
  });
}
