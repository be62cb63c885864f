"""The few colours that carry meaning, shared by the result panel, the strip, the table and the
report. Every one of them comes with words (a colour alone never says the result) and the pair
normal/abnormal stays apart for red-green colour-blind readers (blue-green against orange-red).
"""

NORMAL = "#1b7f5f"  # blue-green
ABNORMAL = "#c2410c"  # orange-red
REFUSED = "#8a8f98"  # grey: poor quality, no answer
ERROR = "#9f1239"
CURSOR = "#7c3aed"
PLAYHEAD = "#d97706"
SELECTION = (124, 58, 237, 40)
CROSSHAIR = "#64748b"
# Heart-cycle markers: Okabe and Ito's blue and reddish purple, apart for colour-blind readers
# and from the normal/abnormal pair; the lane (S1 above S2) and its name say the same.
S1 = "#0072b2"
S2 = "#cc79a7"
