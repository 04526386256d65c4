"""Size limits every layer applies, so a source that reads cleanly also stores cleanly.

They mirror Milvus VARCHAR fields, whose ``max_length`` counts UTF-8 *bytes*, not characters
(a Chinese character takes 3 of them). The store builds its schema from these constants.
"""

MAX_ID_BYTES = 512
MAX_TEXT_BYTES = 65_535
