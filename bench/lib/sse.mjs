// A minimal Server-Sent Events client over node:http (one connection, no reconnect): calls
// onEvent({event, id, data, receivedAt}) for every event, receivedAt = Date.now() at parse time.
import http from 'node:http';

export function subscribe(url, token, { onEvent, onOpen, agent } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' }, agent }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        return reject(new Error(`${url}: HTTP ${res.statusCode}`));
      }
      res.setEncoding('utf8');
      let buf = '';
      let opened = false;
      res.on('data', (chunk) => {
        const receivedAt = Date.now();
        buf += chunk;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          if (!opened && block.startsWith(': connected')) {
            opened = true;
            onOpen?.();
            resolve(close);
            continue;
          }
          if (block.startsWith(':')) continue;
          const ev = { event: 'message', id: undefined, data: '', receivedAt };
          for (const line of block.split('\n')) {
            const c = line.indexOf(':');
            const k = c < 0 ? line : line.slice(0, c);
            const v = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
            if (k === 'event') ev.event = v;
            else if (k === 'id') ev.id = v;
            else if (k === 'data') ev.data += (ev.data ? '\n' : '') + v;
          }
          onEvent?.(ev);
        }
      });
      res.on('error', () => {});
    });
    req.on('error', reject);
    const close = () => req.destroy();
  });
}
