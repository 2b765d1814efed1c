// aedes, a broker that speaks MQTT 3.1.1 only (it answers a v5 CONNECT with the v3.1.1
// CONNACK "unacceptable protocol version"), on 127.0.0.1 and the port given (0: any free one).
// Prints "listening <port>" once it accepts connections; test-support/src/aedes.rs starts it.
import { Aedes } from 'aedes'
import { createServer } from 'node:net'

const port = Number(process.argv[2] || 0)
const aedes = await Aedes.createBroker()
const server = createServer(aedes.handle)
server.listen(port, '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`)
})
