// ship: deploy config for {{app}}. `ship check <stage>` tests it; `ship --help` lists the commands.
import { defineConfig } from 'ship-deploy';

export default defineConfig({
  app: '{{app}}',
  build: { command: 'npm run build', dir: 'dist' },
  deployTo: '{{deployTo}}',
  keepReleases: 5,
  shared: { dirs: ['storage'], files: [] },
  env: { NODE_ENV: 'production' },
  // Run on each host after the switch. `ship init --template nginx pm2 systemd php-fpm` writes
  // server files for it under deploy/.
  reload: 'pm2 reload {{app}}',
  // healthcheck: { url: 'http://127.0.0.1:{{appPort}}/healthz' },
  // Two colors per host (blue-green, weighted canary; `ship init --template nginx-bluegreen`):
  // each release starts on the idle color's port (SHIP_PORT) and is checked there before it
  // gets traffic. Its process gets a random SHIP_HEALTH_TOKEN per deploy and must show it
  // on its health page; ship also checks that the deploy user owns the socket on the port.
  // processes: { start: 'pm2 start server.js --name {{app}}-{color} --update-env', stop: 'pm2 delete {{app}}-{color}' },
  // ports: { blue: 3001, green: 3002 },
  // healthcheck: { url: 'http://127.0.0.1:{port}/healthz', contains: 'release={release} token={token}' },
  // Old pages keep finding their fingerprinted files after a deploy or rollback.
  assets: { dirs: ['public/assets'], keep: 3 },
  stages: {
    production: {
      hosts: ['deploy@web1.example.com', 'deploy@web2.example.com'],
    },
    // A deploy into ./.ship/demo on this machine: `ship deploy demo` tries everything out.
    demo: { hosts: ['local'], deployTo: './.ship/demo', reload: 'true' },
  },
});
