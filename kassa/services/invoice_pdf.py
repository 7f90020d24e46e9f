"""An invoice as a PDF, drawn from its frozen document only, with fpdf2 (pure Python).

Text is set in Noto Sans SC (kassa/fonts, a subset: see scripts/vendor-font.sh), embedded
as a TrueType subset of the glyphs used, so Chinese names are real text (searchable,
copyable) and look the same in every viewer. The PDF's dates come from the invoice, so the
same invoice renders to the same bytes whenever it is asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from kassa.models import Invoice
from kassa.money import Money

FONTS = Path(__file__).resolve().parent.parent / "fonts"
TEXT = "NotoSansSC"
# Latin only: kassa's own words and amounts, never a name.
HEADING = "NotoSansSCBold"
WIDTH = 180  # mm between the margins of an A4 page
GREY = (90, 90, 90)


def render(invoice: Invoice) -> bytes:
    document = invoice.document
    issued_at = datetime.fromisoformat(str(document["issued_at"]))
    pdf = _new_pdf(f"Invoice {invoice.number}", issued_at)
    _header(pdf, invoice.number or "", issued_at)
    _parties(pdf, document["seller"] or {}, document["buyer"])
    currency = str(document["currency"])
    _lines(pdf, document["lines"], currency)
    _totals(pdf, document, currency)
    _footer(pdf, document)
    return bytes(pdf.output())


def _new_pdf(title: str, issued_at: datetime) -> FPDF:
    pdf = FPDF(format="A4")
    pdf.set_margins(15, 15, 15)
    pdf.add_font(TEXT, "", FONTS / "NotoSansSC-Regular-subset.ttf")
    pdf.add_font(HEADING, "", FONTS / "NotoSansSC-Bold-latin.ttf")
    pdf.set_title(title)
    pdf.set_creator("kassa")
    pdf.set_creation_date(issued_at)
    pdf.add_page()
    return pdf


def amount_text(minor: int, currency: str) -> str:
    """`1,234.56 USD`, `98,000 JPY`, `12.345 KWD`: the currency's own decimals, exactly."""
    return f"{Money.of_minor(minor, currency).to_decimal():,f} {currency.upper()}"


def _header(pdf: FPDF, number: str, issued_at: datetime) -> None:
    pdf.set_font(HEADING, size=22)
    pdf.cell(WIDTH / 2, 12, "Invoice", new_x=XPos.RIGHT, new_y=YPos.TOP)
    pdf.set_font(HEADING, size=12)
    # Issued when the money arrived: what it shows stays true (refunds are the payment's).
    pdf.cell(WIDTH / 2, 12, "PAID", align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    _pair(pdf, "Number", number)
    _pair(pdf, "Date", issued_at.strftime("%Y-%m-%d"))
    pdf.ln(6)


def _pair(pdf: FPDF, label: str, value: str) -> None:
    pdf.set_font(HEADING, size=9)
    pdf.set_text_color(*GREY)
    pdf.cell(25, 6, label, new_x=XPos.RIGHT, new_y=YPos.TOP)
    pdf.set_text_color(0, 0, 0)
    pdf.set_font(TEXT, size=10)
    pdf.cell(WIDTH - 25, 6, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _parties(pdf: FPDF, seller: Mapping[str, Any], buyer: Mapping[str, Any]) -> None:
    top = pdf.get_y()
    _party(pdf, "From", [seller.get("name"), seller.get("address"), _tax_id(seller)], 15)
    bottom = pdf.get_y()
    pdf.set_y(top)
    _party(pdf, "Billed to", [buyer.get("name"), buyer.get("email")], 15 + WIDTH / 2)
    pdf.set_y(max(bottom, pdf.get_y()) + 6)


def _tax_id(seller: Mapping[str, Any]) -> str | None:
    return f"Tax ID {seller['tax_id']}" if seller.get("tax_id") else None


def _party(pdf: FPDF, label: str, lines: list[Any], x: float) -> None:
    pdf.set_x(x)
    pdf.set_font(HEADING, size=9)
    pdf.set_text_color(*GREY)
    pdf.cell(WIDTH / 2, 6, label, new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_text_color(0, 0, 0)
    pdf.set_font(TEXT, size=10)
    for line in (str(value) for value in lines if value):
        pdf.set_x(x)
        pdf.multi_cell(WIDTH / 2 - 5, 5, line, new_x=XPos.LEFT, new_y=YPos.NEXT)


def _lines(pdf: FPDF, lines: list[Mapping[str, Any]], currency: str) -> None:
    pdf.set_font(HEADING, size=9)
    pdf.set_fill_color(240, 240, 240)
    pdf.cell(WIDTH - 70, 8, "Description", fill=True, new_x=XPos.RIGHT, new_y=YPos.TOP)
    pdf.cell(20, 8, "Qty", align="R", fill=True, new_x=XPos.RIGHT, new_y=YPos.TOP)
    pdf.cell(50, 8, "Amount", align="R", fill=True, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    for line in lines:
        _line(pdf, line, currency)
    pdf.ln(2)
    pdf.line(15, pdf.get_y(), 15 + WIDTH, pdf.get_y())
    pdf.ln(2)


def _line(pdf: FPDF, line: Mapping[str, Any], currency: str) -> None:
    top = pdf.get_y() + 1
    pdf.set_y(top)
    pdf.set_font(TEXT, size=10)
    pdf.multi_cell(WIDTH - 70, 6, str(line["description"]), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if line.get("detail"):
        pdf.set_font(TEXT, size=8.5)
        pdf.set_text_color(*GREY)
        pdf.multi_cell(WIDTH - 70, 5, str(line["detail"]), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_text_color(0, 0, 0)
    bottom = pdf.get_y()
    pdf.set_xy(15 + WIDTH - 70, top)
    pdf.set_font(TEXT, size=10)
    pdf.cell(20, 6, str(line.get("quantity", 1)), align="R", new_x=XPos.RIGHT, new_y=YPos.TOP)
    pdf.cell(50, 6, amount_text(int(line["amount"]), currency), align="R")
    pdf.set_y(bottom)


def _totals(pdf: FPDF, document: Mapping[str, Any], currency: str) -> None:
    tax = document["tax"]
    rate = f"{int(tax['rate_bp']) / 100:g} %"
    tax_label = f"{tax['label']} {rate} (included)" if tax["rate_bp"] else str(tax["label"])
    _total_row(pdf, "Subtotal", amount_text(int(document["subtotal"]), currency), TEXT)
    _total_row(pdf, tax_label, amount_text(int(tax["amount"]), currency), TEXT)
    _total_row(pdf, "Total", amount_text(int(document["total"]), currency), HEADING, 12)
    pdf.ln(8)


def _total_row(pdf: FPDF, label: str, value: str, font: str, size: float = 10) -> None:
    pdf.set_x(15 + WIDTH - 100)
    pdf.set_font(font, size=size)
    pdf.cell(50, 7, label, new_x=XPos.RIGHT, new_y=YPos.TOP)
    pdf.cell(50, 7, value, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _footer(pdf: FPDF, document: Mapping[str, Any]) -> None:
    paid = document["paid"]
    total = amount_text(int(document["total"]), str(document["currency"]))
    how = f" by {paid['card']}" if paid.get("card") else ""
    pdf.set_font(TEXT, size=9)
    pdf.set_text_color(*GREY)
    pdf.multi_cell(WIDTH, 5, f"Paid in full{how}: {total}. Payment reference {paid['payment_id']}.")
