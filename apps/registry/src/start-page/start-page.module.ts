import { Module } from '@nestjs/common';
import { StartPageController } from './start-page.controller';

@Module({ controllers: [StartPageController] })
export class StartPageModule {}
