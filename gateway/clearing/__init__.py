"""The clearing desk: evidence of unread parcels, the queue, and the clerks' corrections."""
