"""A one-page A4 boleto PDF in pt-BR: payer's receipt on top, "ficha de compensação" below.

The layout follows the usual FEBRABAN arrangement (bank code and linha digitável on the header of
each part, the ITF barcode at the bottom left of the ficha) without claiming to be any bank's
homologated layout; the free field and the bank's own check digit on "001-9" are the bank's
business and are not printed here.

The PDF is deterministic (same inputs, same bytes) so it can be cached and compared in tests.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

# reportlab ships no type information (no py.typed, no stubs package), hence the ignores below.
from reportlab.graphics import renderPDF  # type: ignore[import-untyped]
from reportlab.graphics.barcode.common import I2of5  # type: ignore[import-untyped]
from reportlab.graphics.barcode.qr import QrCodeWidget  # type: ignore[import-untyped]
from reportlab.graphics.shapes import Drawing  # type: ignore[import-untyped]
from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.lib.utils import simpleSplit  # type: ignore[import-untyped]
from reportlab.pdfbase.pdfmetrics import stringWidth  # type: ignore[import-untyped]
from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped]

from atende.brazil.boleto import Boleto
from atende.brazil.documents import check_document, format_document, mask_document
from atende.brazil.money import format_brl

__all__ = ["render_boleto_pdf"]

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 12 * mm
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN

# FEBRABAN's barcode: Interleaved 2 of 5, narrow bar 0.254 mm (1/100 inch), wide bars 3 times
# the narrow one, 13 mm tall, no bearer bars. 44 digits then come to about 103 mm wide.
BAR_NARROW = 0.254 * mm
BAR_RATIO = 3.0
BAR_HEIGHT = 13 * mm

FONT = "Helvetica"
FONT_BOLD = "Helvetica-Bold"
# A fixed-width font keeps the PIX code wrap predictable and easy to read back character by
# character.
FONT_MONO = "Courier"
LABEL_SIZE = 6.0
VALUE_SIZE = 9.0
ROW_HEIGHT = 9 * mm


def render_boleto_pdf(
    boleto: Boleto,
    *,
    beneficiary: str,
    beneficiary_document: str,
    payer: str,
    payer_document: str,
    document_number: str,
    instructions: Sequence[str] = (),
    pix_copia_e_cola: str | None = None,
) -> bytes:
    """Render ``boleto`` as a PDF and return its bytes.

    The beneficiary's CPF/CNPJ is printed in full (the payer needs it to know who is charging) and
    must be valid, or ``ValueError`` is raised; the payer's is masked with
    :func:`~atende.brazil.documents.mask_document`, since the PDF travels over chat.
    """
    # Name and document on separate lines so that a long name can be shortened without ever
    # cutting off the document.
    beneficiary_lines = [
        beneficiary,
        f"{_document_label(beneficiary_document)} {format_document(beneficiary_document)}",
    ]
    payer_lines = [payer, f"{_document_label(payer_document)} {mask_document(payer_document)}"]
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=1, pageCompression=1)
    canvas.setTitle(f"Boleto {document_number}")
    canvas.setAuthor(beneficiary)
    canvas.setSubject(boleto.linha_digitavel_formatted)

    sheet = _Sheet(canvas)
    sheet.part_header(boleto, "Recibo do Pagador")
    sheet.row(
        [
            ("Beneficiário", beneficiary_lines, 0.62),
            ("Vencimento", [_due(boleto)], 0.18),
            ("Valor do documento", [format_brl(boleto.amount_cents)], 0.20),
        ],
        lines=2,
    )
    sheet.row(
        [
            ("Pagador", payer_lines, 0.62),
            ("Número do documento", [document_number], 0.38),
        ],
        lines=2,
    )
    if pix_copia_e_cola:
        sheet.pix(pix_copia_e_cola)
    sheet.cut_line()

    sheet.part_header(boleto, "Ficha de Compensação")
    sheet.row(
        [
            ("Local de pagamento", ["Pagável em qualquer banco"], 0.75),
            ("Vencimento", [_due(boleto)], 0.25),
        ]
    )
    sheet.row(
        [
            ("Beneficiário", beneficiary_lines, 0.75),
            ("Número do documento", [document_number], 0.25),
        ],
        lines=2,
    )
    sheet.instructions(instructions, format_brl(boleto.amount_cents))
    sheet.row([("Pagador", payer_lines, 1.0)], lines=2)
    sheet.barcode(boleto.barcode)

    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _due(boleto: Boleto) -> str:
    return boleto.due_date.strftime("%d/%m/%Y")


def _document_label(document: str) -> str:
    kind = check_document(document).kind
    return kind.value.upper() if kind is not None else "CPF/CNPJ"


class _Sheet:
    """Draws the page top to bottom; ``self.top`` is the y of the next free line."""

    def __init__(self, canvas: Canvas) -> None:
        self.canvas = canvas
        self.top = PAGE_HEIGHT - MARGIN

    def part_header(self, boleto: Boleto, title: str) -> None:
        c = self.canvas
        c.setFont(FONT, LABEL_SIZE + 1)
        c.drawRightString(PAGE_WIDTH - MARGIN, self.top - 3 * mm, title)
        self.top -= 5 * mm
        baseline = self.top - 7 * mm
        c.setFont(FONT_BOLD, 16)
        c.drawString(MARGIN, baseline, boleto.bank_code)
        code_width = 20 * mm
        c.setLineWidth(1.2)
        c.line(MARGIN + code_width - 3 * mm, self.top, MARGIN + code_width - 3 * mm, baseline - 2)
        c.setFont(FONT_BOLD, 12.5)
        c.drawRightString(PAGE_WIDTH - MARGIN, baseline, boleto.linha_digitavel_formatted)
        self.top = baseline - 2 * mm
        c.line(MARGIN, self.top, PAGE_WIDTH - MARGIN, self.top)
        c.setLineWidth(0.5)

    def row(self, cells: Sequence[tuple[str, Sequence[str], float]], *, lines: int = 1) -> None:
        height = ROW_HEIGHT + (lines - 1) * VALUE_SIZE * 1.3
        x = MARGIN
        for label, values, share in cells:
            width = CONTENT_WIDTH * share
            self._cell(x, self.top, width, height, label, values)
            x += width
        self.top -= height

    def instructions(self, lines: Sequence[str], amount: str) -> None:
        left_width = CONTENT_WIDTH * 0.75
        wrapped = [
            part
            for line in lines
            for part in simpleSplit(line, FONT, VALUE_SIZE, left_width - 4 * mm) or [""]
        ]
        height = max(3 * ROW_HEIGHT, (len(wrapped) + 1) * VALUE_SIZE * 1.3 + 4 * mm)
        label = "Instruções (texto de responsabilidade do beneficiário)"
        self._cell(MARGIN, self.top, left_width, height, label, wrapped)
        right = MARGIN + left_width
        self._cell(right, self.top, CONTENT_WIDTH - left_width, ROW_HEIGHT, "(=) Valor", [amount])
        self.canvas.rect(right, self.top - height, CONTENT_WIDTH - left_width, height)
        self.top -= height

    def pix(self, code: str) -> None:
        c = self.canvas
        size = 32 * mm
        height = size + 8 * mm
        c.rect(MARGIN, self.top - height, CONTENT_WIDTH, height)
        c.setFont(FONT_BOLD, VALUE_SIZE)
        c.drawString(MARGIN + 2 * mm, self.top - 5 * mm, "Pague com PIX")
        qr = QrCodeWidget(code, barLevel="M")
        x0, y0, x1, y1 = qr.getBounds()
        drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
        drawing.add(qr)
        renderPDF.draw(drawing, c, MARGIN + 2 * mm, self.top - height + 2 * mm)

        text_left = MARGIN + size + 6 * mm
        text_width = PAGE_WIDTH - MARGIN - 2 * mm - text_left
        c.setFont(FONT, LABEL_SIZE + 1)
        c.drawString(text_left, self.top - 5 * mm, "PIX copia e cola:")
        font_size = 7.0
        per_line = max(1, int(text_width // stringWidth("0", FONT_MONO, font_size)))
        c.setFont(FONT_MONO, font_size)
        y = self.top - 9 * mm
        for start in range(0, len(code), per_line):
            c.drawString(text_left, y, code[start : start + per_line])
            y -= font_size * 1.25
        self.top -= height

    def cut_line(self) -> None:
        c = self.canvas
        self.top -= 6 * mm
        c.setDash(3, 3)
        c.line(MARGIN, self.top, PAGE_WIDTH - MARGIN, self.top)
        c.setDash()
        c.setFont(FONT, LABEL_SIZE)
        c.drawRightString(PAGE_WIDTH - MARGIN, self.top + 1.2 * mm, "Corte na linha pontilhada")
        self.top -= 6 * mm

    def barcode(self, digits: str) -> None:
        symbol = I2of5(
            digits,
            barWidth=BAR_NARROW,
            ratio=BAR_RATIO,
            barHeight=BAR_HEIGHT,
            checksum=0,
            bearers=0,
            quiet=0,
            humanReadable=0,
        )
        # The quiet zone the scanner needs is the page margin itself: nothing is drawn left of it.
        symbol.drawOn(self.canvas, MARGIN, self.top - 3 * mm - BAR_HEIGHT)
        self.canvas.setFont(FONT, LABEL_SIZE)
        self.canvas.drawRightString(
            PAGE_WIDTH - MARGIN, self.top - 3 * mm, "Autenticação mecânica — Ficha de Compensação"
        )
        self.top -= BAR_HEIGHT + 3 * mm

    def _cell(
        self, x: float, top: float, width: float, height: float, label: str, lines: Sequence[str]
    ) -> None:
        c = self.canvas
        c.rect(x, top - height, width, height)
        c.setFont(FONT, LABEL_SIZE)
        c.drawString(x + 1.5 * mm, top - LABEL_SIZE - 1, label)
        c.setFont(FONT, VALUE_SIZE)
        y = top - LABEL_SIZE - 1 - VALUE_SIZE * 1.3
        for line in lines:
            fitted = _fit(line, width - 3 * mm)
            c.drawString(x + 1.5 * mm, y, fitted)
            y -= VALUE_SIZE * 1.3


def _fit(text: str, width: float) -> str:
    """Shorten ``text`` with an ellipsis so that a long name never spills into the next box."""
    if stringWidth(text, FONT, VALUE_SIZE) <= width:
        return text
    while text and stringWidth(text + "…", FONT, VALUE_SIZE) > width:
        text = text[:-1]
    return text + "…"
