// ship: deploy config for {{app}}, a PHP app served by php-fpm behind nginx.
// `ship check <stage>` tests it; docs/zero-downtime.md ("PHP and php-fpm") explains it.
import { defineConfig } from 'ship-deploy';

export default defineConfig({
  app: '{{app}}',
  // A copy of the project in .ship/build, and Composer's production install in it where
  // there is a composer.json: the release carries vendor/ and an optimized autoloader, the
  // hosts need no Composer, and your own vendor/ keeps its dev packages. (With a front-end
  // build, e.g. Laravel's Vite, add `&& npm ci && npm run build` at the end.)
  build: {
    command:
      'rm -rf .ship/build && mkdir -p .ship/build && tar -c --exclude=./.ship --exclude=./.git --exclude=./vendor --exclude=./node_modules . | tar -x -C .ship/build && cd .ship/build && if [ -f composer.json ]; then composer install --no-dev --optimize-autoloader --no-interaction --no-progress; fi',
    dir: '.ship/build',
    exclude: ['deploy'],
  },
  deployTo: '{{deployTo}}',
  keepReleases: 5,
  // Data that outlives a release: Laravel's storage/ (and .env in files), Symfony's
  // var/log/ (not var/cache/: it holds paths of its release) and .env.local.
  shared: { dirs: [], files: [] },
  // php-fpm's graceful reload: it resets OPcache, and workers finish their requests first
  // because deploy/php-fpm/pool.conf sets process_control_timeout (`ship check` warns when
  // it is 0). Leaving reload out is zero-downtime too: nginx passes PHP each release's
  // own path, so OPcache never serves an old release's code (its memory fills up instead).
  reload: 'sudo systemctl reload php8.2-fpm',
  // Laravel: cache config, routes and views in the new release before it goes live.
  // hooks: { 'before:switch': ['php artisan config:cache && php artisan route:cache && php artisan view:cache'] },
  // Symfony: hooks: { 'before:switch': ['php bin/console cache:warmup --env=prod'] },
  // healthcheck: { url: 'http://127.0.0.1/healthz' },
  stages: {
    production: {
      hosts: ['deploy@web1.example.com', 'deploy@web2.example.com'],
    },
    // A deploy into ./.ship/demo on this machine: `ship deploy demo` tries everything out.
    demo: { hosts: ['local'], deployTo: './.ship/demo', reload: 'true' },
  },
});
