"""The workers: the processor, the delivery worker and the consume loop they share."""
