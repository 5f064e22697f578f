package radiusd

// For the external test package (radiusd_test).

// PacketCounts returns radiusd_packets_total as "listener code outcome" → n.
var PacketCounts = packetCounts
