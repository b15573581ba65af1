"""Operations: the consumer-lag exporter (``exchange lag``) and its benchmark."""
